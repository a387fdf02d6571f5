// The encryption key store: S/MIME certificates and OpenPGP keys per address. One row
// per (kind, address, fingerprint); a certificate naming two addresses has two rows.
// Private halves are sealed with the master key, the kind and fingerprint being the
// associated data, so a sealed key cannot be moved to another row. Every change bumps
// config_serial, so running gateways see new, harvested or revoked keys at once.
import type { Db } from '../database.ts';
import { inTransaction } from '../transaction.ts';
import type { EncryptionKeyKind, EncryptionKeyRow, EncryptionKeySource } from '../schema.ts';
import { bumpConfigSerial } from '../../config/settings.ts';
import type { MasterKey } from '../../keys/master-key.ts';

export type { EncryptionKeyKind, EncryptionKeyRow, EncryptionKeySource };

export const ENCRYPTION_KEY_KINDS: readonly EncryptionKeyKind[] = ['smime', 'pgp'];

/** An e-mail address in the form the store keys on ('' stays '' for the internal CA). */
export function normaliseKeyAddress(address: string): string {
  const a = address.trim().toLowerCase();
  if (a === '') return a;
  if (!/^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/.test(a) && !/^[^\s@<>]+@[^\s@<>.]+$/.test(a)) throw new Error(`"${address}" is not an e-mail address`);
  return a;
}

export function parseKeyKind(text: string): EncryptionKeyKind {
  const t = text.trim().toLowerCase();
  if (t === 'smime' || t === 's/mime' || t === 'x509') return 'smime';
  if (t === 'pgp' || t === 'openpgp' || t === 'gpg') return 'pgp';
  throw new Error(`unknown key kind "${text}": use smime or pgp`);
}

function aad(kind: string, fingerprint: string): string {
  return `encryption-key:${kind}:${fingerprint}`;
}

export function sealPrivateMaterial(mk: MasterKey, kind: EncryptionKeyKind, fingerprint: string, plain: string): string {
  return mk.encryptString(plain, aad(kind, fingerprint));
}

/** The private key of a row (PEM or armored), or null when the store has only the public half. */
export function openPrivateMaterial(mk: MasterKey, row: EncryptionKeyRow): string | null {
  if (row.private_material === null) return null;
  try {
    return mk.decryptString(row.private_material, aad(row.kind, row.fingerprint));
  } catch {
    throw new Error(`the private key of ${row.kind} key ${row.fingerprint.slice(0, 16)} (${row.address || 'internal CA'}) cannot be decrypted with this install's master key`);
  }
}

export interface KeyFilter {
  address?: string;
  kind?: EncryptionKeyKind;
  /** Only addresses in this domain (and its subdomains). */
  domain?: string;
  includeRevoked?: boolean;
}

export function listEncryptionKeys(db: Db, f: KeyFilter = {}): Promise<EncryptionKeyRow[]> {
  let q = db.selectFrom('encryption_keys').selectAll();
  if (f.address !== undefined) q = q.where('address', '=', normaliseKeyAddress(f.address));
  if (f.kind) q = q.where('kind', '=', f.kind);
  if (f.domain) {
    const d = f.domain.toLowerCase();
    q = q.where((eb) => eb.or([eb('address', 'like', `%@${d}`), eb('address', 'like', `%.${d}`)]));
  }
  if (!f.includeRevoked) q = q.where('revoked_at', 'is', null);
  return q.orderBy('address').orderBy('kind').orderBy('not_after', 'desc').orderBy('id').execute();
}

export function findEncryptionKey(db: Db, id: number): Promise<EncryptionKeyRow | undefined> {
  return db.selectFrom('encryption_keys').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Rows of one fingerprint (a certificate or key naming several addresses has one per address). */
export function findByFingerprint(db: Db, kind: EncryptionKeyKind, fingerprint: string): Promise<EncryptionKeyRow[]> {
  return db.selectFrom('encryption_keys').selectAll().where('kind', '=', kind).where('fingerprint', '=', fingerprint.toLowerCase()).orderBy('id').execute();
}

/**
 * Keys that may be used now for an address: not revoked, inside their validity, newest
 * expiry first. Chain and CRL checks are the method's (they need the certificate).
 */
export function usableKeys(db: Db, address: string, kind: EncryptionKeyKind, now = Date.now()): Promise<EncryptionKeyRow[]> {
  return db
    .selectFrom('encryption_keys')
    .selectAll()
    .where('address', '=', normaliseKeyAddress(address))
    .where('kind', '=', kind)
    .where('is_ca', '=', 0)
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('not_before', 'is', null), eb('not_before', '<=', now)]))
    .where((eb) => eb.or([eb('not_after', 'is', null), eb('not_after', '>', now)]))
    .orderBy('not_after', 'desc')
    .orderBy('id', 'desc')
    .execute();
}

/** The internal CA's certificate and sealed key (the newest usable one), if it was made. */
export function internalCaRow(db: Db, now = Date.now()): Promise<EncryptionKeyRow | undefined> {
  return db
    .selectFrom('encryption_keys')
    .selectAll()
    .where('kind', '=', 'smime')
    .where('is_ca', '=', 1)
    .where('source', '=', 'internal-ca')
    .where('private_material', 'is not', null)
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('not_after', 'is', null), eb('not_after', '>', now)]))
    .orderBy('not_after', 'desc')
    .executeTakeFirst();
}

/** Usable keys whose validity ends before `before`: the expiry warnings. */
export function expiringKeys(db: Db, before: number, now = Date.now()): Promise<EncryptionKeyRow[]> {
  return db
    .selectFrom('encryption_keys')
    .selectAll()
    .where('revoked_at', 'is', null)
    .where('not_after', 'is not', null)
    .where('not_after', '>', now)
    .where('not_after', '<=', before)
    .orderBy('not_after')
    .execute();
}

export interface NewEncryptionKey {
  address: string;
  kind: EncryptionKeyKind;
  fingerprint: string;
  subject?: string | null;
  issuer?: string | null;
  publicMaterial: string;
  /** Plain private key (PEM / armored): sealed here. */
  privateMaterial?: string | null;
  isCa?: boolean;
  notBefore?: number | null;
  notAfter?: number | null;
  source: EncryptionKeySource;
  now?: number;
}

/**
 * Stores a key for an address. The same key stored again updates its public material
 * (a renewed chain) and adds a private half it lacked; a revoked key stays revoked.
 */
export async function saveEncryptionKey(db: Db, mk: MasterKey | null, k: NewEncryptionKey): Promise<EncryptionKeyRow> {
  const address = normaliseKeyAddress(k.address);
  const fingerprint = k.fingerprint.toLowerCase();
  if (k.privateMaterial && !mk) throw new Error('storing a private key needs the master key');
  const sealed = k.privateMaterial ? sealPrivateMaterial(mk!, k.kind, fingerprint, k.privateMaterial) : null;
  return inTransaction(db, async (trx) => {
    await bumpConfigSerial(trx); // write first (see WRITE_FIRST in dkim-keys.ts)
    const existing = await trx
      .selectFrom('encryption_keys')
      .selectAll()
      .where('kind', '=', k.kind)
      .where('address', '=', address)
      .where('fingerprint', '=', fingerprint)
      .executeTakeFirst();
    if (existing) {
      await trx
        .updateTable('encryption_keys')
        .set({ public_material: k.publicMaterial, ...(sealed && !existing.private_material ? { private_material: sealed } : {}) })
        .where('id', '=', existing.id)
        .execute();
    } else {
      await trx
        .insertInto('encryption_keys')
        .values({
          address,
          kind: k.kind,
          fingerprint,
          subject: k.subject ?? null,
          issuer: k.issuer ?? null,
          public_material: k.publicMaterial,
          private_material: sealed,
          is_ca: k.isCa ? 1 : 0,
          not_before: k.notBefore ?? null,
          not_after: k.notAfter ?? null,
          source: k.source,
          revoked_at: null,
          created_at: k.now ?? Date.now(),
        })
        .execute();
    }
    return trx
      .selectFrom('encryption_keys')
      .selectAll()
      .where('kind', '=', k.kind)
      .where('address', '=', address)
      .where('fingerprint', '=', fingerprint)
      .executeTakeFirstOrThrow();
  });
}

/** Marks every row of a key (all its addresses) revoked; returns them. */
export async function revokeEncryptionKey(db: Db, kind: EncryptionKeyKind, fingerprint: string, now = Date.now()): Promise<EncryptionKeyRow[]> {
  return inTransaction(db, async (trx) => {
    await bumpConfigSerial(trx);
    await trx.updateTable('encryption_keys').set({ revoked_at: now }).where('kind', '=', kind).where('fingerprint', '=', fingerprint.toLowerCase()).where('revoked_at', 'is', null).execute();
    return findByFingerprint(trx, kind, fingerprint);
  });
}
