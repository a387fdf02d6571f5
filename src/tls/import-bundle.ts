// What an admin imports, checked before anything is stored: the private key matches the
// certificate, the chain is complete (every certificate's issuer is in the bundle, up to
// a self-signed root or one the system trusts), nothing is expired or not yet valid, and
// the certificate covers the names the admin says it is for. Each refusal says what is
// wrong and what to do.
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import type { CertificateFacts } from '../db/repos/certificates.ts';
import { dnsNames, factsOf, nameCovered, parseCertificates } from './certificate-facts.ts';
import { keyTypeOf } from './key-pair.ts';
import { openssl } from './openssl.ts';

export interface ImportInput {
  /** PEM text: the certificate and its chain, optionally with the private key. */
  pem?: string;
  /** The private key (PEM), when not in `pem` or the PKCS#12 file. */
  keyPem?: string;
  /** A PKCS#12 (.p12/.pfx) file. */
  pkcs12?: Buffer;
  /** Passphrase of the PKCS#12 file or of an encrypted PEM key. */
  passphrase?: string;
  /** Names the certificate must cover (checked when given). */
  names?: string[];
}

export class ImportError extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}

export interface CheckedImport {
  /** Unencrypted PKCS#8 PEM, null when the bundle had no key (a signed certificate for a pending CSR). */
  keyPem: string | null;
  keyType: string | null;
  facts: CertificateFacts;
  /** The leaf, for matching it to a pending CSR's key. */
  leaf: X509Certificate;
}

const PEM_KEY = /-----BEGIN (?:(?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----[\s\S]+?-----END (?:(?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----/g;

/** The system's trusted roots, parsed once. */
let systemRoots: X509Certificate[] | null = null;
function trustedRoots(): X509Certificate[] {
  systemRoots ??= rootCertificates.map((p) => new X509Certificate(p));
  return systemRoots;
}

async function fromPkcs12(p12: Buffer, passphrase: string): Promise<string> {
  const args = ['pkcs12', '-in', '/dev/stdin', '-nodes', '-passin', 'env:HERMES_P12_PASS'];
  const env = { HERMES_P12_PASS: passphrase };
  try {
    return (await openssl(args, p12, env)).toString('utf8');
  } catch (first) {
    // Files made by older tools use RC2/3DES, which OpenSSL 3 keeps in its legacy provider.
    try {
      return (await openssl([...args, '-legacy'], p12, env)).toString('utf8');
    } catch {
      const why = (first as Error).message;
      throw new ImportError(/mac verify|invalid password|mac/i.test(why) ? 'the PKCS#12 file cannot be opened: wrong passphrase' : `the PKCS#12 file cannot be read (${why})`, 'pkcs12');
    }
  }
}

function openKey(pem: string, passphrase: string | undefined): KeyObject {
  try {
    return createPrivateKey(passphrase ? { key: pem, passphrase } : pem);
  } catch (err) {
    const msg = (err as Error).message;
    if (/passphrase|decrypt/i.test(msg)) throw new ImportError('the private key is encrypted: give its passphrase', 'passphrase');
    throw new ImportError(`the private key cannot be read: ${msg}`, 'key');
  }
}

const label = (c: X509Certificate) => `"${c.subject.replace(/\n/g, ', ')}"`;

/** The chain from the leaf upwards, in order; throws when an issuer is missing. */
function orderChain(leaf: X509Certificate, others: X509Certificate[]): X509Certificate[] {
  const chain = [leaf];
  const pool = others.filter((c) => c !== leaf);
  for (let cur = leaf; ; ) {
    if (cur.checkIssued(cur) && cur.verify(cur.publicKey)) return chain; // self-signed: the root
    const next = pool.find((c) => cur.checkIssued(c) && cur.verify(c.publicKey));
    if (!next) {
      if (trustedRoots().some((r) => cur.checkIssued(r) && cur.verify(r.publicKey))) return chain;
      throw new ImportError(
        `the chain is incomplete: the issuer ${`"${cur.issuer.replace(/\n/g, ', ')}"`} of ${label(cur)} is neither in the file nor a root this system trusts; add the CA's intermediate certificate(s) (its "chain" or "fullchain" file) after the certificate, and for a private CA its root`,
        'chain',
      );
    }
    if (chain.includes(next)) throw new ImportError('the chain loops', 'chain');
    chain.push(next);
    pool.splice(pool.indexOf(next), 1);
    cur = next;
  }
}

export async function checkImport(input: ImportInput, now = Date.now()): Promise<CheckedImport> {
  let text = input.pem ?? '';
  if (input.pkcs12) text += '\n' + (await fromPkcs12(input.pkcs12, input.passphrase ?? ''));
  if (input.keyPem) text += '\n' + input.keyPem;
  let certs: X509Certificate[];
  try {
    certs = parseCertificates(text);
  } catch (err) {
    throw new ImportError((err as Error).message, 'certificate');
  }
  if (!certs.length) throw new ImportError('no certificate found: give the certificate as PEM ("-----BEGIN CERTIFICATE-----") or a PKCS#12 file', 'certificate');
  const keys = text.match(PEM_KEY) ?? [];
  if (keys.length > 1) throw new ImportError('more than one private key given: give only the certificate\'s own key', 'key');
  const key = keys[0] ? openKey(keys[0], input.passphrase) : null;

  // The leaf is the certificate the key belongs to; without a key, the first non-CA one.
  const leaf = key ? certs.find((c) => c.checkPrivateKey(key)) : (certs.find((c) => !c.ca) ?? certs[0]);
  if (!leaf) {
    throw new ImportError(`the private key does not match the certificate ${label(certs[0]!)} (nor any other in the file): give the key the CSR was made with`, 'key');
  }
  if (leaf.ca) throw new ImportError(`${label(leaf)} is a CA certificate, not a server certificate`, 'certificate');
  const chain = orderChain(leaf, certs);
  for (const c of chain) {
    if (Date.parse(c.validTo) <= now) throw new ImportError(`${label(c)} expired on ${new Date(c.validTo).toISOString()}: get a renewed certificate`, 'certificate');
    if (Date.parse(c.validFrom) > now) throw new ImportError(`${label(c)} is not valid before ${new Date(c.validFrom).toISOString()} (is the clock right?)`, 'certificate');
  }
  const covered = dnsNames(leaf);
  const missing = (input.names ?? []).filter((n) => !nameCovered(n, covered));
  if (missing.length) throw new ImportError(`the certificate does not cover ${missing.join(', ')} (it covers ${covered.join(', ') || 'no DNS name'})`, 'names');
  // A root is not sent in a handshake (the client has it or does not trust it anyway).
  const served = chain.length > 1 && chain.at(-1)!.checkIssued(chain.at(-1)!) ? chain.slice(0, -1) : chain;
  const keyPem = key ? key.export({ type: 'pkcs8', format: 'pem' }).toString() : null;
  return { keyPem, keyType: key ? keyTypeOf(key) : null, facts: factsOf(served.map((c) => c.toString()).join('\n')), leaf };
}
