// DKIM signing keys (with the DNS records to publish) and ARC sealing. Private keys are
// sealed with the master key when stored and never leave this service: a key is shown
// by its public half (the DNS record) only, and the audit log sees the same view.
// A domain administrator manages the keys of its own domains; ARC is the whole
// gateway's, so only an administrator changes it.
import { loadSettings, setSettings } from '../config/settings.ts';
import type { Db } from '../db/database.ts';
import { inTransaction } from '../db/transaction.ts';
import {
  addDkimKey,
  DEFAULT_OVERLAP_DAYS,
  displayStatus,
  findDkimKey,
  listDkimKeys,
  normaliseSelector,
  parseDkimAlgorithm,
  removeDkimKey,
  removeExpiredDkimKeys,
  rotateDkimKeys,
  type DkimKeyRow,
} from '../db/repos/dkim-keys.ts';
import { normaliseDomain } from '../db/repos/relay-policy.ts';
import type { MasterKey } from '../keys/master-key.ts';
import { dkimDnsName, dkimZoneLine, generateDkimKey, importDkimPrivateKey, type DkimAlgorithm } from '../pipeline/sign/dkim-keys.ts';
import { assertCan, assertDomain, canSeeDomain, type Actor } from './actor.ts';
import { recordChange } from './audit-service.ts';
import { check, repo } from './repo-errors.ts';
import { ServiceError } from './service-error.ts';

export { DEFAULT_OVERLAP_DAYS };

export interface DkimKeyView {
  id: number;
  domain: string;
  selector: string;
  algorithm: string;
  bits: number;
  /** pending | active | retiring | expired (retiring, overlap over). */
  status: string;
  /** Where the public key is published: selector._domainkey.domain */
  dnsName: string;
  /** The TXT record value (v=DKIM1; k=...; p=...). */
  dnsValue: string;
  /** The record as a zone file line. */
  zoneLine: string;
  /** "seals" when this key seals ARC, "configured (off)" when ARC names it but is off. */
  arc: string | null;
  createdAt: string;
  activatedAt: string | null;
  retiredAt: string | null;
  removeAfter: string | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

interface ArcRef {
  enabled: boolean;
  domain: string | null;
  selector: string | null;
}

async function arcRef(db: Db): Promise<ArcRef> {
  const s = await loadSettings(db);
  return { enabled: !!s['arc.enabled'], domain: s['arc.domain']?.toLowerCase() ?? null, selector: s['arc.selector']?.toLowerCase() ?? null };
}

function toView(r: DkimKeyRow, arc: ArcRef | null, now = Date.now()): DkimKeyView {
  const usedForArc = arc && arc.domain === r.domain && arc.selector === r.selector;
  return {
    id: r.id,
    domain: r.domain,
    selector: r.selector,
    algorithm: r.algorithm,
    bits: r.bits,
    status: displayStatus(r, now),
    dnsName: dkimDnsName(r.selector, r.domain),
    dnsValue: r.dns_txt,
    zoneLine: dkimZoneLine(r.selector, r.domain, r.dns_txt),
    arc: usedForArc ? (arc.enabled ? 'seals' : 'configured (off)') : null,
    createdAt: iso(r.created_at)!,
    activatedAt: iso(r.activated_at),
    retiredAt: iso(r.retired_at),
    removeAfter: iso(r.remove_after),
  };
}

function domainArg(actor: Actor, domain: string): string {
  const d = check(() => normaliseDomain(domain), 'domain');
  assertDomain(actor, d);
  return d;
}

export async function listKeys(db: Db, actor: Actor, domain?: string): Promise<DkimKeyView[]> {
  assertCan(actor, 'dkim.read');
  const d = domain ? domainArg(actor, domain) : undefined;
  const arc = await arcRef(db);
  return (await listDkimKeys(db, d)).filter((r) => canSeeDomain(actor, r.domain)).map((r) => toView(r, arc));
}

export async function getKey(db: Db, actor: Actor, domain: string, selector: string): Promise<DkimKeyView> {
  assertCan(actor, 'dkim.read');
  const d = domainArg(actor, domain);
  const row = await repo(() => findDkimKey(db, d, selector), 'selector');
  if (!row) throw new ServiceError('not_found', `no DKIM key ${normaliseSelector(selector)} for ${d} (see "hermes dkim list ${d}")`);
  return toView(row, await arcRef(db));
}

/** Looks a TXT name up: the gateway's resolver, or a test's. */
export type TxtLookup = (name: string) => Promise<string[][]>;

export interface DnsRecordView extends DkimKeyView {
  /** With a lookup: published | missing | different | "DNS error ..." */
  dns?: string;
}

export interface DnsRecords {
  /** Records that must be published (pending, active, retiring keys). */
  publish: DnsRecordView[];
  /** Records that can go (overlap ended). */
  unpublish: DnsRecordView[];
}

async function checkPublished(txt: TxtLookup, r: DkimKeyRow): Promise<string> {
  const want = /(?:^|;)\s*p=([^;]*)/.exec(r.dns_txt)?.[1]?.replace(/\s+/g, '');
  try {
    const recs = (await txt(dkimDnsName(r.selector, r.domain))).map((parts) => parts.join(''));
    const keys = recs.map((t) => /(?:^|;)\s*p=([^;]*)/.exec(t)?.[1]?.replace(/\s+/g, ''));
    if (keys.includes(want)) return recs.length > 1 ? 'published (with other TXT records at the same name)' : 'published';
    return 'different';
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (code === 'ENOTFOUND' || code === 'ENODATA') return 'missing';
    return `DNS error ${code || (err as Error).message}`;
  }
}

/** The DNS records of a domain's keys; with `lookup`, whether each is published. */
export async function dnsRecords(db: Db, actor: Actor, domain: string, lookup?: TxtLookup): Promise<DnsRecords> {
  assertCan(actor, 'dkim.read');
  const d = domainArg(actor, domain);
  const all = await listDkimKeys(db, d);
  if (!all.length) throw new ServiceError('not_found', `no DKIM keys for ${d}; create one with "hermes dkim generate ${d}"`);
  const now = Date.now();
  const arc = await arcRef(db);
  const out: DnsRecords = { publish: [], unpublish: [] };
  for (const r of all) {
    const v: DnsRecordView = toView(r, arc, now);
    if (lookup) v.dns = await checkPublished(lookup, r);
    (v.status === 'expired' ? out.unpublish : out.publish).push(v);
  }
  return out;
}

export interface GenerateInput {
  domain: string;
  selector?: string;
  /** rsa (default) or ed25519. */
  algorithm?: string;
  /** RSA size, 1024-4096 (default 2048). */
  bits?: number;
  /** Publish first: the key waits until rotate activates it. */
  pending?: boolean;
}

function algorithmOf(text: string | undefined): DkimAlgorithm {
  return check(() => parseDkimAlgorithm(text ?? 'rsa'), 'algorithm');
}

async function storeKey(db: Db, actor: Actor, mk: MasterKey, action: string, d: string, selector: string | undefined, key: Parameters<typeof addDkimKey>[2]['key'], pending: boolean): Promise<DkimKeyView> {
  return inTransaction(db, async (trx) => {
    const row = await repo(() => addDkimKey(trx, mk, { domain: d, ...(selector ? { selector } : {}), key, status: pending ? 'pending' : 'active' }), 'selector');
    const view = toView(row, await arcRef(trx));
    await recordChange(trx, actor, { action, targetType: 'dkim-key', targetId: `${row.selector}._domainkey.${row.domain}`, domain: d, after: view });
    return view;
  });
}

/** Makes a new key pair for a domain; it signs at once (or, pending, after rotate). */
export async function generateKey(db: Db, actor: Actor, mk: MasterKey, input: GenerateInput): Promise<DkimKeyView> {
  assertCan(actor, 'dkim.write');
  const d = domainArg(actor, input.domain);
  const algorithm = algorithmOf(input.algorithm);
  const selector = input.selector ? check(() => normaliseSelector(input.selector!), 'selector') : undefined;
  if (algorithm === 'ed25519-sha256' && input.bits !== undefined && input.bits !== 2048) throw new ServiceError('invalid', '--bits applies to RSA keys only', { bits: 'RSA only' });
  const key = await repo(() => generateDkimKey(algorithm, input.bits ?? 2048), 'bits');
  return storeKey(db, actor, mk, 'dkim.generate', d, selector, key, !!input.pending);
}

/** Stores an existing private key (PEM). The key is sealed at once; only its public half is returned. */
export async function importKey(db: Db, actor: Actor, mk: MasterKey, input: { domain: string; selector: string; privateKeyPem: string; pending?: boolean }): Promise<DkimKeyView> {
  assertCan(actor, 'dkim.write');
  const d = domainArg(actor, input.domain);
  const selector = check(() => normaliseSelector(input.selector), 'selector');
  const key = check(() => importDkimPrivateKey(input.privateKeyPem), 'privateKey');
  return storeKey(db, actor, mk, 'dkim.import', d, selector, key, !!input.pending);
}

export interface RotateInput {
  algorithm?: string;
  selector?: string;
  /** Use this private key (PEM) instead of generating one. */
  privateKeyPem?: string;
  bits?: number;
  /** Only create pending keys to publish; rotate again once they are in DNS. */
  prepare?: boolean;
  /** How long retired keys stay published (default 7). */
  overlapDays?: number;
}

export interface RotateResultView {
  added: DkimKeyView[];
  retired: DkimKeyView[];
}

export async function rotateKeys(db: Db, actor: Actor, mk: MasterKey, domain: string, input: RotateInput = {}): Promise<RotateResultView> {
  assertCan(actor, 'dkim.write');
  const d = domainArg(actor, domain);
  const days = input.overlapDays ?? DEFAULT_OVERLAP_DAYS;
  if (!Number.isFinite(days) || days < 0 || days > 365) throw new ServiceError('invalid', `--overlap-days must be a number of days from 0 to 365 (got "${days}")`, { overlapDays: '0 to 365' });
  const key = input.privateKeyPem ? check(() => importDkimPrivateKey(input.privateKeyPem!), 'privateKey') : undefined;
  const algorithm = input.algorithm ? algorithmOf(input.algorithm) : undefined;
  const bits = input.bits ?? 2048;
  return inTransaction(db, async (trx) => {
    const before = await listKeys(trx, actor, d);
    const res = await repo(() =>
      rotateDkimKeys(trx, mk, d, {
        ...(algorithm ? { algorithm } : {}),
        ...(input.selector ? { selector: input.selector } : {}),
        ...(key ? { key } : {}),
        ...(input.prepare ? { prepare: true } : {}),
        overlapMs: days * 86_400_000,
        generate: (alg) => generateDkimKey(alg, bits),
      }),
    );
    const arc = await arcRef(trx);
    const out = { added: res.added.map((r) => toView(r, arc)), retired: res.retired.map((r) => toView(r, arc)) };
    await recordChange(trx, actor, { action: input.prepare ? 'dkim.prepare' : 'dkim.rotate', targetType: 'dkim-domain', targetId: d, domain: d, before, after: await listKeys(trx, actor, d) });
    return out;
  });
}

/** Removes one key. Without `force`, refuses a key that signs, is pending, seals ARC, or whose overlap is not over. */
export async function removeKey(db: Db, actor: Actor, domain: string, selector: string, o: { force?: boolean } = {}): Promise<DkimKeyView> {
  assertCan(actor, 'dkim.write');
  const d = domainArg(actor, domain);
  return inTransaction(db, async (trx) => {
    const row = await repo(() => findDkimKey(trx, d, selector), 'selector');
    if (!row) throw new ServiceError('not_found', `no DKIM key ${normaliseSelector(selector)} for ${d} (see "hermes dkim list ${d}")`);
    const arc = await arcRef(trx);
    const view = toView(row, arc);
    if (!o.force) {
      const when = (ms: number | null) => (ms === null ? '-' : new Date(Number(ms)).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z'));
      if (view.arc) throw new ServiceError('conflict', `${row.selector}._domainkey.${d} is the ARC sealing key; "hermes arc disable" or point arc at another key first (or use --force)`);
      if (row.status === 'active') throw new ServiceError('conflict', `${row.selector} is active: mail from ${d} is signed with it; rotate first ("hermes dkim rotate ${d}") or use --force`);
      if (row.status === 'pending') throw new ServiceError('conflict', `${row.selector} is pending (not yet signing); use --force to discard it`);
      if (view.status === 'retiring') {
        throw new ServiceError('conflict', `${row.selector} retired on ${when(row.retired_at)}; mail signed with it may still be in transit until ${when(row.remove_after)}; use --force to remove it now`);
      }
    }
    await removeDkimKey(trx, d, row.selector);
    await recordChange(trx, actor, { action: 'dkim.remove', targetType: 'dkim-key', targetId: `${row.selector}._domainkey.${d}`, domain: d, before: view });
    return view;
  });
}

/** Removes the retiring keys of a domain whose overlap period is over. */
export async function removeExpiredKeys(db: Db, actor: Actor, domain: string): Promise<DkimKeyView[]> {
  assertCan(actor, 'dkim.write');
  const d = domainArg(actor, domain);
  return inTransaction(db, async (trx) => {
    const gone = (await removeExpiredDkimKeys(trx, d)).map((r) => toView(r, null));
    if (gone.length) await recordChange(trx, actor, { action: 'dkim.remove-expired', targetType: 'dkim-domain', targetId: d, domain: d, before: gone });
    return gone;
  });
}

/** True when this key seals ARC (a rotation should point ARC at the new key). */
export async function isArcKey(db: Db, r: { domain: string; selector: string }): Promise<boolean> {
  const a = await arcRef(db);
  return a.domain === r.domain && a.selector === r.selector;
}

export interface ArcConfig {
  enabled: boolean;
  domain: string | null;
  selector: string | null;
}

export async function getArc(db: Db, actor: Actor): Promise<ArcConfig> {
  assertCan(actor, 'arc.read');
  return arcRef(db);
}

/**
 * Sets ARC sealing: on with a domain and the selector of one of its RSA keys, or off.
 * Returns the configuration and, when the key no longer signs, a warning.
 */
export async function setArc(db: Db, actor: Actor, input: { enabled: boolean; domain?: string; selector?: string }): Promise<ArcConfig & { warning?: string }> {
  assertCan(actor, 'arc.write');
  return inTransaction(db, async (trx) => {
    const before = await arcRef(trx);
    let warning: string | undefined;
    if (!input.enabled) await setSettings(trx, { 'arc.enabled': false });
    else {
      if (!input.domain || !input.selector) throw new ServiceError('invalid', 'ARC sealing needs the sealing domain and the selector of one of its RSA keys', { ...(!input.domain ? { domain: 'required' } : {}), ...(!input.selector ? { selector: 'required' } : {}) });
      const d = check(() => normaliseDomain(input.domain!), 'domain');
      const s = check(() => normaliseSelector(input.selector!), 'selector');
      const row = await findDkimKey(trx, d, s);
      if (!row) throw new ServiceError('invalid', `no DKIM key ${s} for ${d}; create one with "hermes dkim generate ${d} --selector ${s}"`, { selector: 'no such key' });
      if (row.algorithm !== 'rsa-sha256') throw new ServiceError('invalid', `ARC sealing needs an RSA key (RFC 8617 allows only rsa-sha256); ${s}._domainkey.${d} is ${row.algorithm}`, { selector: 'not an RSA key' });
      if (row.status === 'pending') throw new ServiceError('invalid', `${s}._domainkey.${d} is pending: publish it and activate it with "hermes dkim rotate ${d}" first`, { selector: 'pending key' });
      await setSettings(trx, { 'arc.domain': d, 'arc.selector': s, 'arc.enabled': true });
      if (displayStatus(row) !== 'active') warning = `this key is ${displayStatus(row)}; keep its record published as long as it seals`;
    }
    const after = await arcRef(trx);
    await recordChange(trx, actor, { action: 'arc.set', targetType: 'arc', targetId: 'arc', before, after });
    return { ...after, ...(warning ? { warning } : {}) };
  });
}
