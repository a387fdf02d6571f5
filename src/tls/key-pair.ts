// Private keys for certificates and the CSRs that go with them. Keys are made with
// node:crypto (ECDSA P-256 by default: smaller and faster handshakes than RSA; RSA
// for old clients); the CSR is made by openssl from the key given on stdin.
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { openssl } from './openssl.ts';

export type KeyType = 'ec-p256' | 'ec-p384' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096';
export const KEY_TYPES: readonly KeyType[] = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096'];

export function parseKeyType(text: string): KeyType {
  const t = text.trim().toLowerCase();
  if ((KEY_TYPES as readonly string[]).includes(t)) return t as KeyType;
  throw new Error(`unknown key type "${text}": use one of ${KEY_TYPES.join(', ')}`);
}

export function generatePrivateKey(type: KeyType = 'ec-p256'): string {
  const { privateKey } = type.startsWith('ec-')
    ? generateKeyPairSync('ec', { namedCurve: type === 'ec-p384' ? 'P-384' : 'P-256' })
    : generateKeyPairSync('rsa', { modulusLength: Number(type.slice(4)) });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** "ec-p256", "rsa-2048", ... of a key (what the store lists). */
export function keyTypeOf(key: KeyObject): string {
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') return `ec-${String(d.namedCurve ?? '').replace(/^prime256v1$/, 'p256').replace(/^secp384r1$/, 'p384').replace(/^secp521r1$/, 'p521')}`;
  if (key.asymmetricKeyType === 'rsa') return `rsa-${d.modulusLength ?? '?'}`;
  return String(key.asymmetricKeyType);
}

const DNS_NAME = /^(\*\.)?([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Lower-cased, deduplicated DNS names; throws on one that is not a host name. */
export function normaliseNames(names: readonly string[]): string[] {
  const out = [...new Set(names.map((n) => n.trim().toLowerCase().replace(/\.$/, '')).filter(Boolean))];
  if (!out.length) throw new Error('give at least one DNS name for the certificate');
  for (const n of out) if (!DNS_NAME.test(n) || n.length > 253) throw new Error(`"${n}" is not a DNS name a certificate can cover`);
  return out;
}

/** A PEM CSR for `names` (the first is the subject CN; all are SANs). */
export async function makeCsr(keyPem: string, names: readonly string[]): Promise<string> {
  createPrivateKey(keyPem); // a clear error before openssl's
  const san = names.map((n) => `DNS:${n}`).join(',');
  const csr = await openssl(['req', '-new', '-key', '/dev/stdin', '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${san}`, '-sha256'], keyPem);
  return csr.toString('utf8');
}
