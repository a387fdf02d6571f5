// Reading certificates with node:crypto's X509Certificate: splitting a PEM bundle, the
// DNS names a certificate covers, and the facts the store keeps next to it.
import { X509Certificate } from 'node:crypto';
import type { CertificateFacts } from '../db/repos/certificates.ts';

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Every certificate in a PEM text, in order; throws when one does not parse. */
export function parseCertificates(pem: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERT) ?? [];
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (err) {
      throw new Error(`certificate ${i + 1} in the PEM text does not parse: ${(err as Error).message}`);
    }
  });
}

/** The DNS names of a certificate: its subjectAltName DNS entries, else its CN. */
export function dnsNames(cert: X509Certificate): string[] {
  const san = cert.subjectAltName;
  if (san) {
    const names = san
      .split(/,\s*/)
      .filter((p) => p.startsWith('DNS:'))
      .map((p) => p.slice(4).toLowerCase());
    if (names.length) return [...new Set(names)];
  }
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
  return cn ? [cn.toLowerCase()] : [];
}

/** Whether `name` is covered by one of `patterns` (exact, or "*.example.com" for one label). */
export function nameCovered(name: string, patterns: readonly string[]): boolean {
  const n = name.toLowerCase().replace(/\.$/, '');
  return patterns.some((p) => {
    if (p === n) return true;
    if (!p.startsWith('*.')) return false;
    const dot = n.indexOf('.');
    return dot > 0 && n.slice(dot + 1) === p.slice(2);
  });
}

export function factsOf(chainPem: string): CertificateFacts {
  const chain = parseCertificates(chainPem);
  const leaf = chain[0];
  if (!leaf) throw new Error('no certificate in the PEM text');
  return {
    certPem: chain.map((c) => c.toString().trim()).join('\n') + '\n',
    names: dnsNames(leaf),
    subject: leaf.subject.replace(/\n/g, ', '),
    issuer: leaf.issuer.replace(/\n/g, ', '),
    serialNumber: leaf.serialNumber,
    fingerprint: leaf.fingerprint256,
    notBefore: Date.parse(leaf.validFrom),
    notAfter: Date.parse(leaf.validTo),
  };
}
