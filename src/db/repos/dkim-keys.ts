// DKIM signing keys: per domain and selector, RSA or Ed25519, the private key sealed
// with the install's master key (the domain and selector are the associated data, so a
// sealed key cannot be moved to another row). Life of a key:
//
//   pending  ──rotate──▶  active  ──rotate──▶  retiring  ──(overlap ends)──▶  remove
//   published,            signs                still published, no longer signs:
//   not signing yet                            mail signed before the rotation (and
//   (rotate --prepare)                         still queued or in transit) verifies
//
// At most one active key per domain and algorithm: RSA and Ed25519 side by side sign
// the same message twice (RFC 8463 dual signing). Every change bumps config_serial,
// so running gateways pick new keys up at their next session.
import type { Db } from '../database.ts';
import { inTransaction } from '../transaction.ts';
import type { DkimKeyRow, DkimKeyStatus } from '../schema.ts';
import { bumpConfigSerial } from '../../config/settings.ts';
import type { MasterKey } from '../../keys/master-key.ts';
import type { DkimAlgorithm, DkimKey, GeneratedDkimKey } from '../../pipeline/sign/dkim-keys.ts';
import { normaliseDomain } from './relay-policy.ts';

export type { DkimKeyRow, DkimKeyStatus };

// WRITE_FIRST: every transaction here that reads before it writes starts with its
// write (the config_serial bump). SQLite in WAL mode cannot upgrade a read
// transaction to a write while another connection (the running gateway, a parallel
// CLI call) has written meanwhile: that fails at once with "database is locked",
// busy_timeout or not. A transaction that writes first waits for the lock instead.

export const DKIM_ALGORITHMS: readonly DkimAlgorithm[] = ['rsa-sha256', 'ed25519-sha256'];
/** Retiring keys stay published this long by default: longer than the 5-day queue lifetime. */
export const DEFAULT_OVERLAP_DAYS = 7;

/** "rsa", "ed25519", or the full names, to a DKIM algorithm. */
export function parseDkimAlgorithm(text: string): DkimAlgorithm {
  const t = text.trim().toLowerCase();
  if (t === 'rsa' || t === 'rsa-sha256') return 'rsa-sha256';
  if (t === 'ed25519' || t === 'ed25519-sha256') return 'ed25519-sha256';
  throw new Error(`unknown DKIM algorithm "${text}": use rsa or ed25519`);
}

export function normaliseSelector(selector: string): string {
  const s = selector.trim().toLowerCase();
  const label = '[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?';
  if (!new RegExp(`^${label}(\\.${label})*$`).test(s) || s.length > 200) {
    throw new Error(`invalid DKIM selector "${selector}": use letters, digits and "-" (dots separate labels)`);
  }
  return s;
}

function aad(domain: string, selector: string): string {
  return `dkim-key:${domain}:${selector}`;
}

export function sealDkimPrivateKey(mk: MasterKey, domain: string, selector: string, pem: string): string {
  return mk.encryptString(pem, aad(domain, selector));
}

/** The usable key of a row; throws a clear error if the master key does not open it. */
export function openDkimKey(mk: MasterKey, row: DkimKeyRow): DkimKey {
  let pem: string;
  try {
    pem = mk.decryptString(row.private_key, aad(row.domain, row.selector));
  } catch {
    throw new Error(`DKIM key ${row.selector}._domainkey.${row.domain} cannot be decrypted with this install's master key`);
  }
  return { domain: row.domain, selector: row.selector, privateKeyPem: pem, algorithm: row.algorithm as DkimAlgorithm };
}

export function listDkimKeys(db: Db, domain?: string): Promise<DkimKeyRow[]> {
  let q = db.selectFrom('dkim_keys').selectAll();
  if (domain) q = q.where('domain', '=', normaliseDomain(domain));
  return q.orderBy('domain').orderBy('status').orderBy('created_at').orderBy('id').execute();
}

export function findDkimKey(db: Db, domain: string, selector: string): Promise<DkimKeyRow | undefined> {
  return db
    .selectFrom('dkim_keys')
    .selectAll()
    .where('domain', '=', normaliseDomain(domain))
    .where('selector', '=', normaliseSelector(selector))
    .executeTakeFirst();
}

/** Every key that signs, for the sign stage. */
export function activeDkimKeys(db: Db): Promise<DkimKeyRow[]> {
  return db.selectFrom('dkim_keys').selectAll().where('status', '=', 'active').orderBy('domain').orderBy('algorithm', 'desc').orderBy('id').execute();
}

/** The state shown to admins: a retiring key whose overlap has ended is "expired". */
export function displayStatus(row: DkimKeyRow, now = Date.now()): string {
  if (row.status === 'retiring' && row.remove_after !== null && Number(row.remove_after) <= now) return 'expired';
  return row.status;
}

/** A free selector like "rsa20250603" (then "rsa20250603-2", ...). */
export async function defaultSelector(db: Db, domain: string, algorithm: DkimAlgorithm, now = new Date(), taken: readonly string[] = []): Promise<string> {
  const base = `${algorithm === 'rsa-sha256' ? 'rsa' : 'ed'}${now.toISOString().slice(0, 10).replace(/-/g, '')}`;
  const used = new Set([
    ...taken,
    ...(await db.selectFrom('dkim_keys').select('selector').where('domain', '=', domain).execute()).map((r) => r.selector),
  ]);
  for (let n = 1; ; n++) {
    const s = n === 1 ? base : `${base}-${n}`;
    if (!used.has(s)) return s;
  }
}

export interface AddDkimKeyInput {
  domain: string;
  /** Default: a dated selector (see defaultSelector). */
  selector?: string;
  key: GeneratedDkimKey;
  /** 'active' (default) signs at once; 'pending' is published first and activated by rotate. */
  status?: 'active' | 'pending';
  now?: number;
}

/** Stores a new key; refuses a second active (or pending) key for the same domain and algorithm. */
export async function addDkimKey(db: Db, mk: MasterKey, input: AddDkimKeyInput): Promise<DkimKeyRow> {
  const domain = normaliseDomain(input.domain);
  const selector = input.selector ? normaliseSelector(input.selector) : await defaultSelector(db, domain, input.key.algorithm);
  const status = input.status ?? 'active';
  const now = input.now ?? Date.now();
  return inTransaction(db, async (trx) => {
    await bumpConfigSerial(trx); // write first: see WRITE_FIRST
    const existing = await trx.selectFrom('dkim_keys').selectAll().where('domain', '=', domain).execute();
    const clash = existing.find((r) => r.selector === selector);
    if (clash) throw new Error(`${domain} already has a key with selector ${selector} (${clash.algorithm}, ${clash.status}); choose another --selector`);
    const same = existing.find((r) => r.algorithm === input.key.algorithm && r.status === status);
    if (same) {
      throw new Error(
        `${domain} already has ${status === 'active' ? 'an active' : 'a pending'} ${input.key.algorithm} key (selector ${same.selector}); ` +
          `use "hermes dkim rotate ${domain}" to replace it`,
      );
    }
    await trx
      .insertInto('dkim_keys')
      .values({
        domain,
        selector,
        algorithm: input.key.algorithm,
        bits: input.key.bits,
        private_key: sealDkimPrivateKey(mk, domain, selector, input.key.privateKeyPem),
        dns_txt: input.key.dnsTxt,
        status,
        created_at: now,
        activated_at: status === 'active' ? now : null,
        retired_at: null,
        remove_after: null,
      })
      .execute();
    return (await trx.selectFrom('dkim_keys').selectAll().where('domain', '=', domain).where('selector', '=', selector).executeTakeFirstOrThrow());
  });
}

export interface RotateOptions {
  /** Only this algorithm (default: every algorithm that has an active or pending key). */
  algorithm?: DkimAlgorithm;
  /** Selector of the new key (only when one algorithm is rotated). */
  selector?: string;
  /** Use this key instead of generating one (only when one algorithm is rotated). */
  key?: GeneratedDkimKey;
  /** Create pending keys to publish first; a later rotate activates them. */
  prepare?: boolean;
  /** How long retired keys stay published (ms). */
  overlapMs?: number;
  /** Makes a new key pair for an algorithm. */
  generate: (algorithm: DkimAlgorithm) => Promise<GeneratedDkimKey>;
  now?: number;
}

export interface RotateResult {
  /** Keys that now sign (or, with prepare, wait to be published). */
  added: DkimKeyRow[];
  /** Keys that stopped signing. */
  retired: DkimKeyRow[];
}

/**
 * Replaces the active key(s) of a domain. A pending key of the same algorithm (from
 * `rotate --prepare`, already published) becomes active; otherwise a new key is made
 * and signs at once. The old active key turns retiring: still published, no longer
 * signing, until remove_after.
 */
export async function rotateDkimKeys(db: Db, mk: MasterKey, domainIn: string, o: RotateOptions): Promise<RotateResult> {
  const domain = normaliseDomain(domainIn);
  const now = o.now ?? Date.now();
  const overlapMs = o.overlapMs ?? DEFAULT_OVERLAP_DAYS * 86_400_000;
  const rows = await db.selectFrom('dkim_keys').selectAll().where('domain', '=', domain).execute();
  const live = rows.filter((r) => r.status === 'active' || r.status === 'pending');
  let algorithms = [...new Set(live.map((r) => r.algorithm as DkimAlgorithm))];
  if (o.algorithm) {
    if (!algorithms.includes(o.algorithm) && !o.key) {
      throw new Error(`${domain} has no active ${o.algorithm} key to rotate; use "hermes dkim generate ${domain}" to create one`);
    }
    algorithms = [o.algorithm];
  } else if (o.key) algorithms = [o.key.algorithm];
  if (!algorithms.length) throw new Error(`${domain} has no DKIM key to rotate; use "hermes dkim generate ${domain}" to create one`);
  if ((o.selector || o.key) && algorithms.length > 1) {
    throw new Error(`${domain} has ${algorithms.join(' and ')} keys: name one with --algorithm to use --selector or --key`);
  }
  if (o.key && o.algorithm && o.key.algorithm !== o.algorithm) throw new Error(`the key file holds a ${o.key.algorithm} key, not ${o.algorithm}`);

  // Work out, per algorithm, which key will sign next; make missing ones (slow for RSA) before the transaction.
  const plan: Array<{ algorithm: DkimAlgorithm; pending?: DkimKeyRow; fresh?: { selector: string; key: GeneratedDkimKey } }> = [];
  const taken: string[] = [];
  for (const algorithm of algorithms) {
    const pending = live.find((r) => r.algorithm === algorithm && r.status === 'pending');
    if (o.prepare) {
      if (pending) throw new Error(`${domain} already has a pending ${algorithm} key (selector ${pending.selector}): publish it, then run "hermes dkim rotate ${domain}"`);
    } else if (pending && !o.key && !o.selector) {
      plan.push({ algorithm, pending });
      continue;
    }
    const selector = o.selector ? normaliseSelector(o.selector) : await defaultSelector(db, domain, algorithm, new Date(now), taken);
    if (rows.some((r) => r.selector === selector)) throw new Error(`${domain} already has a key with selector ${selector}; choose another --selector`);
    taken.push(selector);
    plan.push({ algorithm, fresh: { selector, key: o.key ?? (await o.generate(algorithm)) } });
  }

  return inTransaction(db, async (trx) => {
    await bumpConfigSerial(trx); // write first: see WRITE_FIRST
    const added: number[] = [];
    const retired: number[] = [];
    /** Stores a new key, sealed with the master key; returns its id. */
    const insertKey = async (f: NonNullable<(typeof plan)[number]['fresh']>, status: 'pending' | 'active') => {
      const ins = await trx
        .insertInto('dkim_keys')
        .values({
          domain,
          selector: f.selector,
          algorithm: f.key.algorithm,
          bits: f.key.bits,
          private_key: sealDkimPrivateKey(mk, domain, f.selector, f.key.privateKeyPem),
          dns_txt: f.key.dnsTxt,
          status,
          created_at: now,
          activated_at: status === 'active' ? now : null,
          retired_at: null,
          remove_after: null,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      return Number(ins.id);
    };
    for (const step of plan) {
      if (o.prepare) {
        added.push(await insertKey(step.fresh!, 'pending'));
        continue;
      }
      // The current signer(s) of this algorithm step down first.
      const old = await trx.selectFrom('dkim_keys').select('id').where('domain', '=', domain).where('algorithm', '=', step.algorithm).where('status', '=', 'active').execute();
      if (old.length) {
        await trx
          .updateTable('dkim_keys')
          .set({ status: 'retiring', retired_at: now, remove_after: now + overlapMs })
          .where('id', 'in', old.map((r) => r.id))
          .execute();
        retired.push(...old.map((r) => r.id));
      }
      if (step.pending) {
        await trx.updateTable('dkim_keys').set({ status: 'active', activated_at: now }).where('id', '=', step.pending.id).execute();
        added.push(step.pending.id);
      } else {
        // A replaced pending key (new --key/--selector given) is dropped: it never signed.
        await trx.deleteFrom('dkim_keys').where('domain', '=', domain).where('algorithm', '=', step.algorithm).where('status', '=', 'pending').execute();
        added.push(await insertKey(step.fresh!, 'active'));
      }
    }
    const byIds = async (ids: number[]) => (ids.length ? trx.selectFrom('dkim_keys').selectAll().where('id', 'in', ids).orderBy('id').execute() : []);
    return { added: await byIds(added), retired: await byIds(retired) };
  });
}

/** Removes one key. */
export async function removeDkimKey(db: Db, domain: string, selector: string): Promise<boolean> {
  const d = normaliseDomain(domain);
  const s = normaliseSelector(selector);
  return inTransaction(db, async (trx) => {
    const res = await trx.deleteFrom('dkim_keys').where('domain', '=', d).where('selector', '=', s).executeTakeFirst();
    await bumpConfigSerial(trx);
    return Number(res.numDeletedRows) > 0;
  });
}

/** Removes retiring keys whose overlap has ended (of one domain, or all); returns them. */
export async function removeExpiredDkimKeys(db: Db, domain?: string, now = Date.now()): Promise<DkimKeyRow[]> {
  return inTransaction(db, async (trx) => {
    await bumpConfigSerial(trx); // write first: see WRITE_FIRST
    let q = trx.selectFrom('dkim_keys').selectAll().where('status', '=', 'retiring').where('remove_after', '<=', now);
    if (domain) q = q.where('domain', '=', normaliseDomain(domain));
    const rows = await q.execute();
    if (rows.length) await trx.deleteFrom('dkim_keys').where('id', 'in', rows.map((r) => r.id)).execute();
    return rows;
  });
}
