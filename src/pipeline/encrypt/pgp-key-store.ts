// OpenPGP keys as the PGP method and the inbound decryption need them, read from the
// shared key store (encryption_keys, kind 'pgp'). Parsed keys are cached by row id and
// fingerprint: a key's material never changes under the same fingerprint, and a
// revocation or new key moves the configuration serial, which clears the cache.
import type { Db } from '../../db/database.ts';
import { openPrivateMaterial, saveEncryptionKey, usableKeys, type EncryptionKeyRow, type EncryptionKeySource } from '../../db/repos/encryption-keys.ts';
import type { MasterKey } from '../../keys/master-key.ts';
import { pgpKeyInfo, publicArmor, readPgpKey, readPrivateKey, type PgpKey, type PgpKeyInfo, type PgpPrivateKey } from './pgp-keys.ts';

/** Which key wins when an address has several: what the admin gave, then ours, then what mail brought. */
const SOURCE_RANK: Record<string, number> = { imported: 0, generated: 1, wkd: 2, harvested: 3 };

export interface UsablePgpKey {
  row: EncryptionKeyRow;
  key: PgpKey;
  info: PgpKeyInfo;
}

export interface PgpKeyStoreOptions {
  db: Db;
  /** The install's master key (loaded lazily: only private keys need it). */
  masterKey: () => MasterKey;
  /** Configuration serial: a change clears the caches. */
  serial?: () => number;
}

export class PgpKeyStore {
  readonly #o: PgpKeyStoreOptions;
  #serial = -1;
  readonly #public = new Map<string, Promise<UsablePgpKey | null>>();
  readonly #private = new Map<string, Promise<PgpPrivateKey | null>>();

  constructor(o: PgpKeyStoreOptions) {
    this.#o = o;
  }

  #fresh(): void {
    const s = this.#o.serial?.() ?? 0;
    if (s !== this.#serial) {
      this.#serial = s;
      this.#public.clear();
      this.#private.clear();
    }
  }

  /** Rows of an address that may be used now, best first. */
  async #rows(address: string, now: Date): Promise<EncryptionKeyRow[]> {
    const rows = await usableKeys(this.#o.db, address, 'pgp', now.getTime());
    return rows.sort((a, b) => (SOURCE_RANK[a.source] ?? 9) - (SOURCE_RANK[b.source] ?? 9) || b.created_at - a.created_at);
  }

  /**
   * The key to encrypt to for an address: the best row whose key can encrypt now (the
   * key itself decides: subkey expiry and revocation signatures live inside it).
   */
  async encryptionKey(address: string, now = new Date()): Promise<UsablePgpKey | null> {
    this.#fresh();
    for (const row of await this.#rows(address, now)) {
      const cacheKey = `${row.id}:${row.fingerprint}`;
      let p = this.#public.get(cacheKey);
      if (!p) {
        p = (async () => {
          const key = await readPgpKey(row.public_material);
          return { row, key, info: await pgpKeyInfo(key, now) };
        })().catch(() => null);
        this.#public.set(cacheKey, p);
      }
      const usable = await p;
      if (usable?.info.canEncrypt && !usable.info.revoked) return usable;
    }
    return null;
  }

  /** Every usable public key of an address (to verify its signatures). */
  async verificationKeys(address: string, now = new Date()): Promise<PgpKey[]> {
    const keys: PgpKey[] = [];
    for (const row of await this.#rows(address, now)) {
      try {
        keys.push(await readPgpKey(row.public_material));
      } catch {
        // a damaged row verifies nothing; the others still do
      }
    }
    return keys;
  }

  /** The private key of an internal address (signing, decrypting), null when we hold none. */
  async privateKey(address: string, now = new Date()): Promise<PgpPrivateKey | null> {
    this.#fresh();
    const rows = (await this.#rows(address, now)).filter((r) => r.private_material !== null);
    const row = rows[0];
    if (!row) return null;
    const cacheKey = `${row.id}:${row.fingerprint}`;
    let p = this.#private.get(cacheKey);
    if (!p) {
      p = readPrivateKey(openPrivateMaterial(this.#o.masterKey(), row)!);
      this.#private.set(cacheKey, p);
      p.catch(() => this.#private.delete(cacheKey));
    }
    return p;
  }

  /** Private keys of several addresses (the internal recipients of an inbound message). */
  async privateKeys(addresses: string[], now = new Date()): Promise<PgpPrivateKey[]> {
    const keys = await Promise.all(addresses.map((a) => this.privateKey(a, now).catch(() => null)));
    return keys.filter((k): k is PgpPrivateKey => !!k);
  }

  /** Stores a key for an address (public, or with its private half). */
  async save(address: string, key: PgpKey, source: EncryptionKeySource): Promise<EncryptionKeyRow> {
    const info = await pgpKeyInfo(key);
    const row = await saveEncryptionKey(this.#o.db, key.isPrivate() ? this.#o.masterKey() : null, {
      address,
      kind: 'pgp',
      fingerprint: info.fingerprint,
      subject: info.userIds[0] ?? null,
      issuer: null,
      publicMaterial: publicArmor(key),
      privateMaterial: key.isPrivate() ? key.armor() : null,
      notBefore: info.createdAt.getTime(),
      notAfter: info.expiresAt?.getTime() ?? null,
      source,
    });
    this.#serial = -1;
    return row;
  }
}
