// The signing keys a running gateway uses: the active DKIM keys per domain and the ARC
// sealing key, decrypted once and cached. The cache follows config_serial: when the
// policy snapshot's serial moves (any CLI/console change), the rows are read again at
// the next message, so a generated, rotated or removed key applies without a restart.
import type { Db } from '../../db/database.ts';
import type { DkimKeyRow } from '../../db/schema.ts';
import { activeDkimKeys, openDkimKey } from '../../db/repos/dkim-keys.ts';
import { loadMasterKey, type MasterKey } from '../../keys/master-key.ts';
import type { DkimKey } from './dkim-keys.ts';
import type { ArcSealKey } from './arc-seal.ts';

export interface SigningKeyStoreOptions {
  db: Db;
  /** Where the master key lives (loaded on first use: an install without keys never needs it). */
  masterKeyFile: string;
  /** The current configuration serial (PolicyStore.cached().serial). */
  serial: () => number;
}

interface Loaded {
  serial: number;
  /** domain → active key rows. */
  byDomain: Map<string, DkimKeyRow[]>;
  /** "domain selector" → ARC key row (any status but pending). */
  arc: Map<string, DkimKeyRow>;
}

export class SigningKeyStore {
  #loaded: Loaded | null = null;
  #loading: Promise<Loaded> | null = null;
  #masterKey: MasterKey | null = null;
  /** Decrypted keys by row id; survives reloads while the row is unchanged. */
  #opened = new Map<number, { sealed: string; key: DkimKey }>();

  constructor(private readonly o: SigningKeyStoreOptions) {}

  async #current(): Promise<Loaded> {
    const serial = this.o.serial();
    if (this.#loaded && this.#loaded.serial === serial) return this.#loaded;
    this.#loading ??= this.#load(serial).finally(() => (this.#loading = null));
    return this.#loading;
  }

  async #load(serial: number): Promise<Loaded> {
    const rows = await activeDkimKeys(this.o.db);
    const byDomain = new Map<string, DkimKeyRow[]>();
    for (const r of rows) {
      const list = byDomain.get(r.domain) ?? [];
      list.push(r);
      byDomain.set(r.domain, list);
    }
    const arcRows = await this.o.db.selectFrom('dkim_keys').selectAll().where('status', '!=', 'pending').execute();
    const arc = new Map(arcRows.map((r) => [`${r.domain} ${r.selector}`, r]));
    const live = new Set(arcRows.map((r) => r.id));
    for (const id of this.#opened.keys()) if (!live.has(id)) this.#opened.delete(id);
    const loaded = { serial, byDomain, arc };
    this.#loaded = loaded;
    return loaded;
  }

  #open(row: DkimKeyRow): DkimKey {
    const hit = this.#opened.get(row.id);
    if (hit && hit.sealed === row.private_key) return hit.key;
    if (!this.#masterKey) {
      try {
        this.#masterKey = loadMasterKey(this.o.masterKeyFile);
      } catch (err) {
        throw new Error(`cannot load the master key ${this.o.masterKeyFile} to open DKIM keys: ${(err as Error).message}`);
      }
    }
    const key = openDkimKey(this.#masterKey, row);
    this.#opened.set(row.id, { sealed: row.private_key, key });
    return key;
  }

  /**
   * The active keys of the first candidate domain that has any (e.g. the From domain,
   * then its parent domains, then the envelope sender's), or null.
   */
  async signingKeys(candidates: readonly string[]): Promise<{ domain: string; keys: DkimKey[] } | null> {
    const loaded = await this.#current();
    if (!loaded.byDomain.size) return null;
    for (const c of candidates) {
      const rows = loaded.byDomain.get(c.toLowerCase());
      if (rows?.length) return { domain: c.toLowerCase(), keys: rows.map((r) => this.#open(r)) };
    }
    return null;
  }

  /** The ARC sealing key; throws a precise error when it is missing or not RSA. */
  async arcKey(domain: string, selector: string): Promise<ArcSealKey> {
    const loaded = await this.#current();
    const row = loaded.arc.get(`${domain.toLowerCase()} ${selector.toLowerCase()}`);
    if (!row) throw new Error(`no DKIM key ${selector}._domainkey.${domain} for ARC sealing (see "hermes dkim list")`);
    if (row.algorithm !== 'rsa-sha256') throw new Error(`ARC sealing needs an RSA key; ${selector}._domainkey.${domain} is ${row.algorithm}`);
    const k = this.#open(row);
    return { domain: k.domain, selector: k.selector, privateKeyPem: k.privateKeyPem, algorithm: 'rsa-sha256' };
  }
}
