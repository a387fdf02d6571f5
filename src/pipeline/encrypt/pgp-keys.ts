// OpenPGP keys (openpgp.js 6): reading what an admin imports (armoured or binary,
// public or private), describing a key for the key store, and generating keys for
// internal senders. Keys stay RFC 4880 version 4 with the "legacy" Curve25519
// algorithms, which every deployed client reads (GnuPG 2.2 reads neither v6 keys nor
// the RFC 9580 X25519 algorithm ids).
import * as openpgp from 'openpgp';

export type PgpKey = openpgp.Key;
export type PgpPrivateKey = openpgp.PrivateKey;

export class PgpKeyError extends Error {}

export interface PgpKeyInfo {
  /** Primary key fingerprint, upper-case hex. */
  fingerprint: string;
  /** Long key id, upper-case hex (what gpg prints). */
  keyId: string;
  userIds: string[];
  /** E-mail addresses of the user IDs, lower case. */
  addresses: string[];
  createdAt: Date;
  /** null: never expires. */
  expiresAt: Date | null;
  isPrivate: boolean;
  /** A valid (unexpired, unrevoked) subkey or primary key can encrypt. */
  canEncrypt: boolean;
  canSign: boolean;
  revoked: boolean;
}

/** Armoured text starts with a BEGIN PGP line (whitespace and a comment before it allowed). */
function isArmored(input: Uint8Array | string): boolean {
  const head = typeof input === 'string' ? input.slice(0, 4096) : Buffer.from(input.subarray(0, 4096)).toString('latin1');
  return head.includes('-----BEGIN PGP ');
}

/**
 * Reads every key in an armoured or binary block (a keyring export may hold several).
 * Private keys protected by a passphrase are unlocked with it; the gateway keeps them
 * unlocked, sealed by its master key instead.
 */
export async function readPgpKeys(input: Uint8Array | string, passphrase?: string): Promise<PgpKey[]> {
  let keys: PgpKey[];
  try {
    keys = isArmored(input)
      ? await openpgp.readKeys({ armoredKeys: typeof input === 'string' ? input : Buffer.from(input).toString('utf8') })
      : await openpgp.readKeys({ binaryKeys: typeof input === 'string' ? Buffer.from(input, 'latin1') : input });
  } catch (err) {
    throw new PgpKeyError(`not an OpenPGP key: ${(err as Error).message}`);
  }
  if (!keys.length) throw new PgpKeyError('no OpenPGP key found');
  return Promise.all(keys.map((k) => unlock(k, passphrase)));
}

async function unlock(key: PgpKey, passphrase: string | undefined): Promise<PgpKey> {
  if (!key.isPrivate() || key.isDecrypted()) return key;
  if (!passphrase) throw new PgpKeyError(`private key ${key.getFingerprint().toUpperCase()} is protected by a passphrase: give it (--passphrase-file) to import it`);
  try {
    return await openpgp.decryptKey({ privateKey: key, passphrase });
  } catch (err) {
    throw new PgpKeyError(`cannot unlock private key ${key.getFingerprint().toUpperCase()}: ${(err as Error).message}`);
  }
}

/** One key from its armoured text (as the key store keeps it). */
export async function readPgpKey(armored: string): Promise<PgpKey> {
  const [key] = await readPgpKeys(armored);
  return key!;
}

export async function readPrivateKey(armored: string): Promise<PgpPrivateKey> {
  const key = await readPgpKey(armored);
  if (!key.isPrivate()) throw new PgpKeyError('not a private key');
  return key;
}

const EMAIL_IN_UID = /<([^<>\s]+@[^<>\s]+)>\s*$/;

function uidAddress(uid: string): string | null {
  const m = EMAIL_IN_UID.exec(uid);
  if (m) return m[1]!.toLowerCase();
  return /^[^\s@<>]+@[^\s@<>]+$/.test(uid.trim()) ? uid.trim().toLowerCase() : null;
}

export async function pgpKeyInfo(key: PgpKey, now = new Date()): Promise<PgpKeyInfo> {
  const userIds = key.getUserIDs();
  const expiry = await key.getExpirationTime().catch(() => null);
  const revoked = await key.isRevoked(undefined, undefined, now).catch(() => false);
  return {
    fingerprint: key.getFingerprint().toUpperCase(),
    keyId: key.getKeyID().toHex().toUpperCase(),
    userIds,
    addresses: [...new Set(userIds.map(uidAddress).filter((a): a is string => !!a))],
    createdAt: key.getCreationTime(),
    expiresAt: expiry instanceof Date ? expiry : null,
    isPrivate: key.isPrivate(),
    canEncrypt: !!(await key.getEncryptionKey(undefined, now).catch(() => null)),
    canSign: key.isPrivate() ? !!(await (key as PgpPrivateKey).getSigningKey(undefined, now).catch(() => null)) : !!(await key.getSigningKey(undefined, now).catch(() => null)),
    revoked,
  };
}

/** The armoured public half. */
export function publicArmor(key: PgpKey): string {
  return key.toPublic().armor();
}

export interface GeneratedPgpKey {
  publicArmored: string;
  privateArmored: string;
  revocationCertificate: string;
  info: PgpKeyInfo;
}

/**
 * A new key pair for an internal sender: Ed25519 primary (certify, sign) and a
 * Curve25519 encryption subkey, v4, unprotected (the key store seals it). Generation
 * takes milliseconds, yet callers in an SMTP session still hand it to the background
 * generator (pgp-key-generator.ts): a session never waits for a key.
 */
export async function generatePgpKey(o: { address: string; name?: string; validDays?: number }): Promise<GeneratedPgpKey> {
  const { privateKey, publicKey, revocationCertificate } = await openpgp.generateKey({
    type: 'ecc',
    curve: 'ed25519Legacy',
    userIDs: [{ email: o.address, ...(o.name ? { name: o.name } : {}) }],
    keyExpirationTime: o.validDays ? o.validDays * 86400 : 0,
    format: 'armored',
  });
  const info = await pgpKeyInfo(await readPgpKey(privateKey));
  return { publicArmored: publicKey, privateArmored: privateKey, revocationCertificate, info };
}
