// DKIM key pairs: generation (node:crypto), import checks, and the DNS TXT record to
// publish. RSA keys are published as the base64 SubjectPublicKeyInfo (RFC 6376 3.6.1,
// what opendkim-genkey prints); Ed25519 keys as the bare 32-byte public key (RFC 8463 4).
import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

const generateKeyPairAsync = promisify(generateKeyPair);

export type DkimAlgorithm = 'rsa-sha256' | 'ed25519-sha256';

export interface DkimKey {
  domain: string;
  selector: string;
  privateKeyPem: string;
  algorithm: DkimAlgorithm;
}

export interface GeneratedDkimKey {
  algorithm: DkimAlgorithm;
  /** PKCS#8 PEM. */
  privateKeyPem: string;
  /** SPKI PEM. */
  publicKeyPem: string;
  /** RSA modulus length, or 256 for Ed25519. */
  bits: number;
  /** TXT record value, e.g. "v=DKIM1; k=rsa; p=MIIB...". */
  dnsTxt: string;
}

export const RSA_DEFAULT_BITS = 2048;
/** RFC 8301 3.2: verifiers must accept 1024-4096 bit keys; signers must use at least 1024. */
export const RSA_MIN_BITS = 1024;
export const RSA_MAX_BITS = 4096;

/** Generates a key pair: RSA-2048 by default, or Ed25519. */
export async function generateDkimKey(algorithm: DkimAlgorithm = 'rsa-sha256', rsaBits = RSA_DEFAULT_BITS): Promise<GeneratedDkimKey> {
  if (algorithm === 'rsa-sha256') {
    if (!Number.isInteger(rsaBits) || rsaBits < RSA_MIN_BITS || rsaBits > RSA_MAX_BITS) {
      throw new Error(`RSA DKIM keys must be ${RSA_MIN_BITS}-${RSA_MAX_BITS} bits (got ${rsaBits})`);
    }
    const { privateKey } = await generateKeyPairAsync('rsa', { modulusLength: rsaBits, publicExponent: 0x10001 });
    return describeKey(privateKey);
  }
  if (algorithm === 'ed25519-sha256') {
    const { privateKey } = await generateKeyPairAsync('ed25519');
    return describeKey(privateKey);
  }
  throw new Error(`unknown DKIM algorithm "${String(algorithm)}"`);
}

/**
 * Checks an imported private key (PEM: PKCS#8, PKCS#1 "RSA PRIVATE KEY", or a raw
 * base64 Ed25519 seed) and returns its algorithm, PEM in PKCS#8 and DNS record.
 */
export function importDkimPrivateKey(key: string | Buffer): GeneratedDkimKey {
  let obj: KeyObject;
  const text = Buffer.isBuffer(key) ? key.toString('utf8') : key;
  try {
    if (!text.includes('-----BEGIN') && /^[A-Za-z0-9+/=\s]+$/.test(text)) {
      // Raw Ed25519 seed (32 bytes, base64), as dkimpy and mailauth accept.
      const seed = Buffer.from(text.replace(/\s+/g, ''), 'base64');
      if (seed.length !== 32) throw new Error(`expected a PEM private key ("-----BEGIN PRIVATE KEY-----") or a base64 32-byte Ed25519 seed, got ${seed.length} bytes of base64`);
      obj = createPrivateKey({
        key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]),
        format: 'der',
        type: 'pkcs8',
      });
    } else {
      obj = createPrivateKey({ key: text, format: 'pem' });
    }
  } catch (err) {
    throw new Error(`not a usable private key: ${(err as Error).message}`);
  }
  return describeKey(obj);
}

function describeKey(privateKey: KeyObject): GeneratedDkimKey {
  const type = privateKey.asymmetricKeyType;
  const publicKey = createPublicKey(privateKey);
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  if (type === 'rsa') {
    const bits = privateKey.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < RSA_MIN_BITS) throw new Error(`RSA key is ${bits} bits; DKIM needs at least ${RSA_MIN_BITS} (RFC 8301)`);
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    return { algorithm: 'rsa-sha256', privateKeyPem, publicKeyPem, bits, dnsTxt: `v=DKIM1; k=rsa; p=${spki.toString('base64')}` };
  }
  if (type === 'ed25519') {
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const raw = spki.subarray(spki.length - 32); // SPKI = 12-byte prefix + 32-byte key
    return { algorithm: 'ed25519-sha256', privateKeyPem, publicKeyPem, bits: 256, dnsTxt: `v=DKIM1; k=ed25519; p=${raw.toString('base64')}` };
  }
  throw new Error(`DKIM keys must be RSA or Ed25519 (got ${type ?? 'unknown'})`);
}

/** TXT record value for an existing key (private or public PEM). */
export function dkimDnsRecord(keyPem: string): string {
  const text = keyPem.trim();
  if (/-----BEGIN (RSA )?PUBLIC KEY-----/.test(text)) {
    const pub = createPublicKey(text);
    const spki = pub.export({ type: 'spki', format: 'der' });
    if (pub.asymmetricKeyType === 'rsa') return `v=DKIM1; k=rsa; p=${spki.toString('base64')}`;
    if (pub.asymmetricKeyType === 'ed25519') return `v=DKIM1; k=ed25519; p=${spki.subarray(spki.length - 32).toString('base64')}`;
    throw new Error(`DKIM keys must be RSA or Ed25519 (got ${pub.asymmetricKeyType ?? 'unknown'})`);
  }
  return importDkimPrivateKey(text).dnsTxt;
}

/** Owner name of the key record: "<selector>._domainkey.<domain>". */
export function dkimDnsName(selector: string, domain: string): string {
  return `${selector}._domainkey.${domain.replace(/\.$/, '')}`.toLowerCase();
}

/**
 * A TXT value as the quoted character-strings of at most 255 bytes that a zone file
 * (and most DNS consoles) need: an RSA-2048 record is ~410 characters.
 */
export function txtChunks(value: string, max = 255): string[] {
  const out: string[] = [];
  for (let i = 0; i < value.length; i += max) out.push(value.slice(i, i + max));
  return out;
}

/** Zone-file line, e.g. `sel._domainkey.example.com. IN TXT ( "v=DKIM1; ..." "..." )`. */
export function dkimZoneLine(selector: string, domain: string, dnsTxt: string): string {
  return `${dkimDnsName(selector, domain)}. IN TXT ( ${txtChunks(dnsTxt).map(c => `"${c}"`).join(' ')} )`;
}
