// S/MIME certificates: reading them (PEM, DER, PKCS#12), the facts the key store keeps
// (fingerprint, addresses, validity), and whether one may be used now: a chain to a
// trust anchor, every certificate of it within its validity, and key usage that allows
// encryption (or signing).
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import * as asn1js from 'asn1js';
import type * as x509ns from '@peculiar/x509';
import { OID, smimeCrypto, toArrayBuffer } from './smime-crypto.ts';

export type Certificate = x509ns.X509Certificate;

/** Every certificate in a PEM text (several blocks) or one DER certificate. */
export function parseCertificates(input: Buffer | string): Certificate[] {
  const { x509 } = smimeCrypto();
  const text = typeof input === 'string' ? input : input.toString('latin1');
  if (text.includes('-----BEGIN CERTIFICATE-----')) {
    const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    return blocks.map((b) => new x509.X509Certificate(b));
  }
  const der = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  try {
    return [new x509.X509Certificate(toArrayBuffer(der))];
  } catch {
    throw new Error('not a certificate: expected PEM ("-----BEGIN CERTIFICATE-----"), DER, or a PKCS#12 file with --password');
  }
}

export function certificatesToPem(certs: readonly Certificate[]): string {
  return certs.map((c) => c.toString('pem')).join('\n') + '\n';
}

/** SHA-256 of the DER certificate, lower-case hex: the key store's fingerprint. */
export function certFingerprint(cert: Certificate): string {
  return createHash('sha256').update(Buffer.from(cert.rawData)).digest('hex');
}

/** The e-mail addresses a certificate is for: subjectAltName rfc822Name, else the subject's emailAddress. */
export function certAddresses(cert: Certificate): string[] {
  const { x509 } = smimeCrypto();
  const out = new Set<string>();
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  for (const n of san?.names.items ?? []) if (n.type === 'email') out.add(n.value.toLowerCase());
  if (!out.size) for (const v of cert.subjectName.getField(OID.emailAddress)) out.add(v.toLowerCase());
  return [...out];
}

export function isCaCertificate(cert: Certificate): boolean {
  const { x509 } = smimeCrypto();
  return !!cert.getExtension(x509.BasicConstraintsExtension)?.ca;
}

export interface Pkcs12Contents {
  /** PKCS#8 PEM of the private key. */
  privateKeyPem: string;
  /** The certificate matching the key first, then the others (the chain). */
  certificates: Certificate[];
}

/** Opens a PKCS#12 (.p12/.pfx) file: its private key and certificates. */
export async function parsePkcs12(der: Buffer, password: string): Promise<Pkcs12Contents> {
  const { pkijs, x509 } = smimeCrypto();
  const pwd = toArrayBuffer(Buffer.from(password, 'utf8'));
  const asn = asn1js.fromBER(toArrayBuffer(der));
  if (asn.offset === -1) throw new Error('not a PKCS#12 file (it is not DER)');
  let pfx: InstanceType<typeof pkijs.PFX>;
  try {
    pfx = new pkijs.PFX({ schema: asn.result });
    await pfx.parseInternalValues({ password: pwd, checkIntegrity: true });
  } catch (err) {
    throw new Error(`cannot open the PKCS#12 file (wrong password, or an unsupported format): ${(err as Error).message}`);
  }
  const safe = pfx.parsedValue?.authenticatedSafe;
  if (!safe) throw new Error('the PKCS#12 file holds no authenticated safe');
  await safe.parseInternalValues({ safeContents: safe.safeContents.map(() => ({ password: pwd })) as never });
  const keys: string[] = [];
  const certs: Certificate[] = [];
  for (const sc of safe.parsedValue?.safeContents ?? []) {
    for (const bag of sc.value.safeBags) {
      if (bag.bagId === '1.2.840.113549.1.12.10.1.2') {
        // pkcs8ShroudedKeyBag: an EncryptedPrivateKeyInfo that OpenSSL (node:crypto) opens.
        const encDer = Buffer.from((bag.bagValue as InstanceType<typeof pkijs.PKCS8ShroudedKeyBag>).toSchema().toBER(false));
        const key = createPrivateKey({ key: encDer, format: 'der', type: 'pkcs8', passphrase: password });
        keys.push(key.export({ format: 'pem', type: 'pkcs8' }).toString());
      } else if (bag.bagId === '1.2.840.113549.1.12.10.1.1') {
        const pki = (bag.bagValue as InstanceType<typeof pkijs.PrivateKeyInfo>).toSchema().toBER(false);
        keys.push(createPrivateKey({ key: Buffer.from(pki), format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }).toString());
      } else if (bag.bagId === '1.2.840.113549.1.12.10.1.3') {
        const cb = bag.bagValue as InstanceType<typeof pkijs.CertBag>;
        const parsed = cb.parsedValue as InstanceType<typeof pkijs.Certificate> | undefined;
        if (parsed && 'subjectPublicKeyInfo' in parsed) certs.push(new x509.X509Certificate(parsed.toSchema().toBER(false)));
      }
    }
  }
  if (keys.length !== 1) throw new Error(`the PKCS#12 file holds ${keys.length} private keys; expected exactly one`);
  const own = certs.find((c) => keyMatchesCertificate(keys[0]!, c));
  if (!own) throw new Error('the PKCS#12 file holds no certificate for its private key');
  return { privateKeyPem: keys[0]!, certificates: [own, ...certs.filter((c) => c !== own)] };
}

/**
 * The certificate's SubjectPublicKeyInfo, DER. Read with pkijs: @peculiar/x509's own
 * publicKey getter fails on RSA keys in this install (two copies of its ASN.1 schema
 * package), so nothing here uses it.
 */
export function certSpki(cert: Certificate): Buffer {
  const { pkijs } = smimeCrypto();
  return Buffer.from(pkijs.Certificate.fromBER(toArrayBuffer(Buffer.from(cert.rawData))).subjectPublicKeyInfo.toSchema().toBER(false));
}

export function certPublicKeyPem(cert: Certificate): string {
  return createPublicKey({ key: certSpki(cert), format: 'der', type: 'spki' }).export({ format: 'pem', type: 'spki' }).toString();
}

/** True when the certificate's public key is the public half of this private key. */
export function keyMatchesCertificate(privateKeyPem: string, cert: Certificate): boolean {
  return certSpki(cert).equals(createPublicKey(privateKeyPem).export({ format: 'der', type: 'spki' }) as Buffer);
}

/** Does `issuer` sign `cert` (names linked, signature verified)? */
async function issuedBy(cert: Certificate, issuer: Certificate): Promise<boolean> {
  const { pkijs } = smimeCrypto();
  const c = pkijs.Certificate.fromBER(toArrayBuffer(Buffer.from(cert.rawData)));
  const i = pkijs.Certificate.fromBER(toArrayBuffer(Buffer.from(issuer.rawData)));
  if (!c.issuer.isEqual(i.subject)) return false;
  try {
    return await c.verify(i);
  } catch {
    return false;
  }
}

/** Leaf first, up to a self-signed certificate or as far as `pool` reaches (at most 8 links). */
async function buildChain(leaf: Certificate, pool: readonly Certificate[]): Promise<{ chain: Certificate[] }> {
  const chain = [leaf];
  for (let depth = 0; depth < 8; depth++) {
    const last = chain[chain.length - 1]!;
    if (last.subject === last.issuer && (await issuedBy(last, last))) return { chain };
    let next: Certificate | undefined;
    for (const cand of pool) {
      if (!chain.some((c) => c.equal(cand)) && (await issuedBy(last, cand))) {
        next = cand;
        break;
      }
    }
    if (!next) return { chain };
    chain.push(next);
  }
  return { chain };
}

export type CertUse = 'encrypt' | 'sign';

export interface CertCheck {
  ok: boolean;
  /** Why not, or how it was trusted ("chain to CN=Hermes Internal CA", "imported by an admin"). */
  reason: string;
  chain: Certificate[];
}

/**
 * May this certificate be used for `use` at `now`? It must be within its validity,
 * allow the use (keyUsage, extendedKeyUsage emailProtection), and chain to one of
 * `anchors` through `intermediates` with every link valid now. A certificate an admin
 * imported for this address is trusted without a chain (`explicitlyTrusted`), its
 * validity and usage still checked.
 */
export async function checkCertificate(cert: Certificate, o: { use: CertUse; now: Date; anchors: readonly Certificate[]; intermediates?: readonly Certificate[]; explicitlyTrusted?: boolean }): Promise<CertCheck> {
  const { x509 } = smimeCrypto();
  const within = (c: Certificate) => c.notBefore.getTime() <= o.now.getTime() && o.now.getTime() < c.notAfter.getTime();
  if (!within(cert)) return { ok: false, reason: `certificate ${describe(cert)} is not valid now (valid ${cert.notBefore.toISOString()} to ${cert.notAfter.toISOString()})`, chain: [] };
  const ku = cert.getExtension(x509.KeyUsagesExtension);
  if (ku) {
    const need = o.use === 'encrypt' ? x509.KeyUsageFlags.keyEncipherment : x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation;
    if (!(ku.usages & need)) return { ok: false, reason: `certificate ${describe(cert)} does not allow ${o.use === 'encrypt' ? 'key encipherment' : 'digital signatures'}`, chain: [] };
  }
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  if (eku && !eku.usages.map(String).includes(OID.emailProtection) && !eku.usages.map(String).includes('2.5.29.37.0')) {
    return { ok: false, reason: `certificate ${describe(cert)} is not for e-mail protection (extendedKeyUsage)`, chain: [] };
  }
  const pool = [...(o.intermediates ?? []), ...o.anchors];
  // Every link of the chain is a verified signature (buildChain links only on those).
  const { chain } = await buildChain(cert, pool);
  const top = chain[chain.length - 1]!;
  const anchored = o.anchors.some((a) => a.equal(top));
  if (!anchored) {
    if (o.explicitlyTrusted) return { ok: true, reason: 'imported by an admin (no chain to a trust anchor)', chain };
    return { ok: false, reason: `certificate ${describe(cert)} does not chain to a trusted CA (issuer ${cert.issuer})`, chain };
  }
  for (let i = 1; i < chain.length; i++) {
    const c = chain[i]!;
    if (!within(c)) return { ok: false, reason: `${describe(c)} in the chain is not valid now (until ${c.notAfter.toISOString()})`, chain };
    if (!isCaCertificate(c)) return { ok: false, reason: `${describe(c)} signs certificates but is not a CA`, chain };
  }
  return { ok: true, reason: `chain to ${top.subject}`, chain };
}

export function describe(c: Certificate): string {
  return `"${c.subject}" (serial ${c.serialNumber})`;
}
