// What an end user may do with their own mail, in the portal or through a one-click
// link: see, preview, release, delete, report, request a release, keep their own allow
// and block lists and choose their digest frequency. "Own" means held for one of their
// addresses: the account's own address (its user name) and addresses an administrator
// delegated to it. Whoever else a message was held for is never shown.
//
// Releases go through the quarantine store's one release path (quarantine/
// quarantine-service.ts), for the user's recipients only; every change is in the audit
// log and the message's trace.
import type { Db } from '../db/database.ts';
import { addListEntry, parseListValue } from '../db/repos/lists.ts';
import { delegatedAddresses, insertReleaseRequest, releaseRequestsFor } from '../db/repos/portal-users.ts';
import { ownCategoryCounts, pageOwnQuarantine, withOwn, type OwnEntry } from '../db/repos/portal-quarantine.ts';
import { getRecipientPrefs, prefsFor, saveRecipientPrefs } from '../db/repos/recipient-prefs.ts';
import { DIGEST_LANGUAGES, isDigestLanguage, type DigestLanguage } from '../notify/digest-text.ts';
import type { DigestFrequency, FilterListRow, UserRow } from '../db/schema.ts';
import type { BayesLearner } from '../quarantine/bayes-learner.ts';
import type { QuarantineService as QuarantineStoreService } from '../quarantine/quarantine-service.ts';
import type { Settings } from '../config/settings.ts';
import type { Actor } from './actor.ts';
import { recordChange } from './audit-service.ts';
import { renderMessage, type MessageRendering } from './message-rendering.ts';
import { decodeCursor, toPage, type Page } from './page.ts';
import { ServiceError } from './service-error.ts';
import { iso } from './validation.ts';

export const DIGEST_FREQUENCIES: readonly DigestFrequency[] = ['never', 'hourly', 'daily', 'weekly'];

export interface PortalDeps {
  db: Db;
  store: QuarantineStoreService;
  settings: () => Promise<Settings>;
  learn?: BayesLearner;
  /** Mails the administrators (release requests); absent when nothing can be sent. */
  notifyAdmins?: (subject: string, text: string) => Promise<void>;
}

/** Who acts, and for which addresses. */
export interface PortalUser {
  actor: Actor;
  addresses: string[];
}

/** The user's addresses: the user name when it is an address, and the delegated ones. */
export async function portalUserOf(db: Db, user: UserRow, actor: Actor): Promise<PortalUser> {
  const own = user.username.includes('@') ? [user.username.toLowerCase()] : [];
  return { actor, addresses: [...new Set([...own, ...(await delegatedAddresses(db, user.id))])] };
}

/** A one-click link acts for its one recipient. */
export function linkUser(recipient: string, clientAddress: string): PortalUser {
  const r = recipient.toLowerCase();
  return { actor: { kind: 'link', id: r, name: `link:${r}`, role: 'user', domains: [], address: clientAddress }, addresses: [r] };
}

export interface OwnItem {
  id: string;
  receivedAt: string;
  from: string;
  headerFrom: string | null;
  subject: string | null;
  category: string;
  score: number | null;
  reason: string;
  size: number;
  /** The user's own recipients of it, with their state. */
  recipients: Array<{ address: string; state: string }>;
  /** Held for one of the user's addresses. */
  held: boolean;
  /** The user may release it (else only request a release). */
  releasable: boolean;
  releaseRequested: boolean;
}

function toOwnItem(e: OwnEntry, s: Settings, requested: Set<string>): OwnItem {
  return {
    id: e.id,
    receivedAt: iso(e.received_at)!,
    from: e.mail_from,
    headerFrom: e.header_from,
    subject: e.subject,
    category: e.category,
    score: e.score,
    reason: e.reason,
    size: Number(e.size),
    recipients: e.own.map((r) => ({ address: r.address, state: r.state })),
    held: e.own.some((r) => r.state === 'held'),
    releasable: !s['portal.requestOnlyCategories'].includes(e.category),
    releaseRequested: e.own.some((r) => requested.has(`${e.id} ${r.address}`)),
  };
}

export async function listOwnQuarantine(d: PortalDeps, u: PortalUser, q: { category?: string; cursor?: string; limit?: number; state?: 'held' | 'all' } = {}): Promise<Page<OwnItem>> {
  const limit = Math.min(Math.max(q.limit ?? 50, 1), 200);
  const before = decodeCursor(q.cursor, (v): v is [number, string] => Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'string');
  const rows = await pageOwnQuarantine(d.db, { addresses: u.addresses, ...(q.category ? { category: q.category } : {}), state: q.state ?? 'held', ...(before ? { before } : {}), limit: limit + 1 });
  const s = await d.settings();
  const requested = await releaseRequestsFor(d.db, rows.map((r) => r.id), u.addresses);
  return toPage(rows, limit, (e) => toOwnItem(e, s, requested), (e) => [Number(e.held_at), e.id]);
}

export function ownCategories(d: PortalDeps, u: PortalUser): Promise<Record<string, number>> {
  return ownCategoryCounts(d.db, u.addresses);
}

/** The entry, if it was held for one of the user's addresses; "not found" otherwise (nothing about other mail). */
async function ownEntry(d: PortalDeps, u: PortalUser, id: string): Promise<OwnEntry> {
  const notFound = new ServiceError('not_found', 'there is no such message in your quarantine');
  if (!/^[0-9A-Za-z]{1,40}$/.test(id)) throw notFound;
  const row = await d.db.selectFrom('quarantine').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound;
  const [e] = await withOwn(d.db, [row], u.addresses);
  if (!e || !e.own.length) throw notFound;
  return e;
}

export async function getOwnItem(d: PortalDeps, u: PortalUser, id: string): Promise<OwnItem> {
  const e = await ownEntry(d, u, id);
  return toOwnItem(e, await d.settings(), await releaseRequestsFor(d.db, [e.id], u.addresses));
}

export async function renderOwn(d: PortalDeps, u: PortalUser, id: string, opts: { allowRemote?: boolean } = {}): Promise<MessageRendering> {
  const e = await ownEntry(d, u, id);
  if (e.state === 'deleted') throw new ServiceError('conflict', 'this message was deleted: only its summary is kept');
  return renderMessage(await d.store.raw(e.id), opts);
}

const heldOwn = (e: OwnEntry) => e.own.filter((r) => r.state === 'held').map((r) => r.address);

function storeConflict(err: unknown): never {
  const m = (err as Error).message;
  if (/no longer held|no recipient left|already deleted|changed meanwhile/.test(m)) throw new ServiceError('conflict', 'this message is no longer held for you (released or deleted meanwhile)');
  throw err;
}

/** Releases the message to the user's own recipients that are still held. */
export async function releaseOwn(d: PortalDeps, u: PortalUser, id: string): Promise<{ queueId: string; recipients: string[] }> {
  const e = await ownEntry(d, u, id);
  const s = await d.settings();
  if (s['portal.requestOnlyCategories'].includes(e.category)) {
    throw new ServiceError('forbidden', `messages held as ${e.category} are released by an administrator: request a release instead`, { reason: 'request_only' });
  }
  const mine = heldOwn(e);
  if (!mine.length) throw new ServiceError('conflict', 'this message is no longer held for you (released or deleted meanwhile)');
  let r;
  try {
    r = await d.store.release(e.id, { by: u.actor.name, recipients: mine });
  } catch (err) {
    storeConflict(err);
  }
  await recordChange(d.db, u.actor, { action: 'quarantine.release', targetType: 'quarantine', targetId: e.id, domain: mine[0]!.split('@')[1] ?? null, before: { state: 'held' }, after: { queueId: r.queueId, recipients: r.recipients } });
  return { queueId: r.queueId, recipients: r.recipients };
}

export async function deleteOwn(d: PortalDeps, u: PortalUser, id: string): Promise<{ recipients: string[] }> {
  const e = await ownEntry(d, u, id);
  const mine = heldOwn(e);
  if (!mine.length) throw new ServiceError('conflict', 'this message is no longer held for you (released or deleted meanwhile)');
  try {
    await d.store.deleteFor(e.id, mine, { by: u.actor.name });
  } catch (err) {
    storeConflict(err);
  }
  await recordChange(d.db, u.actor, { action: 'quarantine.delete', targetType: 'quarantine', targetId: e.id, domain: mine[0]!.split('@')[1] ?? null, before: { state: 'held', from: e.mail_from, subject: e.subject }, after: { recipients: mine } });
  return { recipients: mine };
}

/** Reports the message as spam or not spam: the Bayes classifier learns it. */
export async function reportOwn(d: PortalDeps, u: PortalUser, id: string, as: 'spam' | 'ham'): Promise<void> {
  if (as !== 'spam' && as !== 'ham') throw new ServiceError('invalid', 'report a message as "spam" or "ham"');
  if (!d.learn) throw new ServiceError('unavailable', 'this gateway has no Bayes store to learn with');
  const e = await ownEntry(d, u, id);
  if (e.state === 'deleted') throw new ServiceError('conflict', 'this message was deleted: it can no longer be reported');
  await d.learn(await d.store.raw(e.id), as);
  await d.db.insertInto('events').values({ message_id: e.message_id, at: Date.now(), type: 'quarantine-learned', recipient: null, detail: JSON.stringify({ quarantineId: e.id, as, by: u.actor.name }) }).execute();
  await recordChange(d.db, u.actor, { action: `quarantine.learn-${as}`, targetType: 'quarantine', targetId: e.id, domain: e.own[0]!.address.split('@')[1] ?? null, after: { learned: as } });
}

/** For categories users may not release: asks the administrators (mail to notify.adminAddress). */
export async function requestRelease(d: PortalDeps, u: PortalUser, id: string, comment?: string): Promise<{ requested: boolean }> {
  const e = await ownEntry(d, u, id);
  const mine = heldOwn(e);
  if (!mine.length) throw new ServiceError('conflict', 'this message is no longer held for you (released or deleted meanwhile)');
  const note = comment?.trim().slice(0, 1000) || null;
  let fresh = false;
  for (const address of mine) fresh = (await insertReleaseRequest(d.db, { quarantine_id: e.id, address, requested_by: u.actor.name, comment: note })) || fresh;
  if (!fresh) return { requested: false };
  await d.db.insertInto('events').values({ message_id: e.message_id, at: Date.now(), type: 'release-requested', recipient: null, detail: JSON.stringify({ quarantineId: e.id, recipients: mine, by: u.actor.name }) }).execute();
  await recordChange(d.db, u.actor, { action: 'quarantine.release-request', targetType: 'quarantine', targetId: e.id, domain: mine[0]!.split('@')[1] ?? null, after: { recipients: mine, comment: note } });
  await d.notifyAdmins?.(
    `Release requested: ${e.subject ?? '(no subject)'}`,
    [
      `${u.actor.name} asks for the release of a message held as ${e.category}.`,
      '',
      `Quarantine id: ${e.id}`,
      `For:           ${mine.join(', ')}`,
      `From:          ${e.mail_from || '<>'}`,
      `Subject:       ${e.subject ?? ''}`,
      `Reason held:   ${e.reason}`,
      ...(note ? ['', `Their note: ${note}`] : []),
      '',
      `Release it with: hermes quarantine release ${e.id} --recipient ${mine[0]}`,
      '(or in the console, Quarantine).',
    ].join('\n'),
  );
  return { requested: true };
}

/** The sender a per-user allow or block entry is made for: the envelope sender, else the From address. */
export function senderOf(e: { mail_from: string; header_from: string | null }): string | null {
  if (e.mail_from) return e.mail_from.toLowerCase();
  const m = /<([^<>@\s]+@[^<>\s]+)>/.exec(e.header_from ?? '') ?? /([^<>@\s]+@[^<>\s]+)/.exec(e.header_from ?? '');
  return m ? m[1]!.toLowerCase() : null;
}

/** "Always allow" or "block" the sender of one of the user's held messages, on the lists of the user's recipients of it. */
export async function listSenderOf(d: PortalDeps, u: PortalUser, id: string, list: 'allow' | 'block'): Promise<{ sender: string; owners: string[] }> {
  const e = await ownEntry(d, u, id);
  const sender = senderOf(e);
  if (!sender) throw new ServiceError('conflict', 'this message has no sender address to put on a list');
  const owners = e.own.map((r) => r.address);
  for (const owner of owners) await addOwnListEntry(d, u, { owner, list, value: sender, comment: `from the quarantine (${e.id})` });
  return { sender, owners };
}

export interface OwnListEntry {
  id: number;
  list: 'allow' | 'block';
  owner: string;
  value: string;
  comment: string | null;
}

export async function ownListEntries(d: PortalDeps, u: PortalUser): Promise<OwnListEntry[]> {
  if (!u.addresses.length) return [];
  const rows: FilterListRow[] = await d.db.selectFrom('filter_lists').selectAll().where('owner', 'in', u.addresses).where('list', 'in', ['allow', 'block']).orderBy('owner').orderBy('list').orderBy('value').execute();
  return rows.map((r) => ({ id: Number(r.id), list: r.list as 'allow' | 'block', owner: r.owner, value: r.value, comment: r.comment }));
}

function ownAddress(u: PortalUser, owner: string): string {
  const o = owner.trim().toLowerCase();
  if (!u.addresses.includes(o)) throw new ServiceError('forbidden', 'you may only change the lists of your own addresses', { owner: 'not yours' });
  return o;
}

export async function addOwnListEntry(d: PortalDeps, u: PortalUser, e: { owner: string; list: string; value: string; comment?: string }): Promise<OwnListEntry> {
  const owner = ownAddress(u, e.owner);
  if (e.list !== 'allow' && e.list !== 'block') throw new ServiceError('invalid', 'the list is "allow" or "block"', { list: 'unknown' });
  let parsed;
  try {
    parsed = parseListValue(e.value);
  } catch (err) {
    throw new ServiceError('invalid', `${(err as Error).message}: give an address (someone@example.com) or a domain (example.com)`, { value: 'invalid' });
  }
  if (parsed.kind === 'network') throw new ServiceError('invalid', 'your lists take addresses or domains, not networks', { value: 'network' });
  const row = await d.db.transaction().execute(async (trx) => {
    const r = await addListEntry(trx, { list: e.list, owner, value: e.value, comment: e.comment ?? null });
    await recordChange(trx, u.actor, { action: 'list.add', targetType: 'list', targetId: String(r.id), domain: owner.split('@')[1] ?? null, after: { list: r.list, owner, value: r.value } });
    return r;
  });
  return { id: Number(row.id), list: row.list as 'allow' | 'block', owner: row.owner, value: row.value, comment: row.comment };
}

export async function removeOwnListEntry(d: PortalDeps, u: PortalUser, id: number): Promise<void> {
  const row = await d.db.selectFrom('filter_lists').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row || !u.addresses.includes(row.owner) || (row.list !== 'allow' && row.list !== 'block')) throw new ServiceError('not_found', 'there is no such entry on your lists');
  await d.db.transaction().execute(async (trx) => {
    await trx.deleteFrom('filter_lists').where('id', '=', id).execute();
    const { bumpConfigSerial } = await import('../config/settings.ts');
    await bumpConfigSerial(trx);
    await recordChange(trx, u.actor, { action: 'list.remove', targetType: 'list', targetId: String(id), domain: row.owner.split('@')[1] ?? null, before: { list: row.list, owner: row.owner, value: row.value } });
  });
}

export interface DigestChoice {
  address: string;
  /** The recipient's own choice, or null for the gateway's default. */
  frequency: DigestFrequency | null;
  effective: DigestFrequency;
  /** The recipient's own language for digests and notices, or null for digest.language. */
  language: DigestLanguage | null;
  effectiveLanguage: DigestLanguage;
}

export async function digestChoices(d: PortalDeps, u: PortalUser): Promise<DigestChoice[]> {
  const s = await d.settings();
  const prefs = await prefsFor(d.db, u.addresses);
  return u.addresses.map((address) => {
    const p = prefs.get(address);
    const language = isDigestLanguage(p?.language) ? p.language : null;
    return { address, frequency: p?.digest_frequency ?? null, effective: p?.digest_frequency ?? s['digest.frequency'], language, effectiveLanguage: language ?? s['digest.language'] };
  });
}

/** The digest frequency and language of one of the user's addresses; null: the gateway's default. */
export async function setDigestPrefs(d: PortalDeps, u: PortalUser, address: string, p: { frequency: string | null; language?: string | null }): Promise<void> {
  const a = ownAddress(u, address);
  if (p.frequency !== null && !DIGEST_FREQUENCIES.includes(p.frequency as DigestFrequency)) throw new ServiceError('invalid', `the digest frequency is one of ${DIGEST_FREQUENCIES.join(', ')}`, { frequency: 'unknown' });
  if (p.language !== undefined && p.language !== null && !isDigestLanguage(p.language)) throw new ServiceError('invalid', `the digest language is one of ${DIGEST_LANGUAGES.join(', ')}`, { language: 'unknown' });
  const before = await getRecipientPrefs(d.db, a);
  const change = { digest_frequency: p.frequency as DigestFrequency | null, ...(p.language !== undefined ? { language: p.language } : {}) };
  await saveRecipientPrefs(d.db, a, change);
  await recordChange(d.db, u.actor, {
    action: 'portal.digest-prefs',
    targetType: 'recipient',
    targetId: a,
    domain: a.split('@')[1] ?? null,
    before: { frequency: before?.digest_frequency ?? null, language: before?.language ?? null },
    after: { frequency: change.digest_frequency, language: p.language === undefined ? (before?.language ?? null) : p.language },
  });
}

/** Adds an event to the trace of the message a quarantine entry holds (link uses). */
export async function traceQuarantined(db: Db, quarantineId: string, type: string, detail: unknown): Promise<void> {
  const row = await db.selectFrom('quarantine').select('message_id').where('id', '=', quarantineId).executeTakeFirst();
  if (row) await db.insertInto('events').values({ message_id: row.message_id, at: Date.now(), type, recipient: null, detail: JSON.stringify(detail) }).execute();
}
