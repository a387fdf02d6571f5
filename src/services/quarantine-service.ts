// Held messages for the console, the REST API and the CLI: list with filters, show
// (with headers), a safe rendering, release, release and learn as ham, learn as spam or
// ham, delete, and bulk actions. The quarantine store (quarantine/) does the work; this
// layer decides who may do it: a domain administrator sees entries with a recipient in
// its domains and releases only those recipients; every change is in the audit log.
import type { Db } from '../db/database.ts';
import { pageQuarantine, resolveQuarantineId as findQuarantineId, type QuarantineEntry } from '../db/repos/quarantine.ts';
import type { QuarantineService as QuarantineStoreService, ReleaseResult } from '../quarantine/quarantine-service.ts';
import type { BayesLearner } from '../quarantine/bayes-learner.ts';
import { assertCan, canSeeDomain, domainOf, type Actor } from './actor.ts';
import { recordChange } from './audit-service.ts';
import { parseHeaders, renderMessage, type MessageHeader, type MessageRendering } from './message-rendering.ts';
import { decodeCursor, pageSize, toPage, type Page } from './page.ts';
import { ServiceError } from './service-error.ts';
import { invalid, iso, timeArg } from './validation.ts';
import type { HeldRecipient, QuarantineDetail, QuarantineItem } from '../shared/quarantine.ts';

export type { HeldRecipient, QuarantineDetail, QuarantineItem };

export interface QuarantineDeps {
  db: Db;
  store: QuarantineStoreService;
  /** Learns a message as spam or ham; absent when the install has no Bayes store. */
  learn?: BayesLearner;
}

export interface QuarantineQuery {
  cursor?: string;
  limit?: number;
  recipient?: string;
  sender?: string;
  category?: string;
  minScore?: number;
  from?: string | number | Date;
  to?: string | number | Date;
  state?: 'held' | 'released' | 'deleted' | 'all';
}

export const QUARANTINE_STATES = ['held', 'released', 'deleted', 'all'] as const;
export const BULK_ACTIONS = ['release', 'delete', 'learn-spam', 'learn-ham', 'release-learn-ham'] as const;
export type BulkAction = (typeof BULK_ACTIONS)[number];

function toItem(e: QuarantineEntry, actor: Actor): QuarantineItem {
  return {
    id: e.id,
    queueId: e.message_id,
    receivedAt: iso(e.received_at)!,
    heldAt: iso(e.held_at)!,
    direction: e.direction,
    from: e.mail_from,
    headerFrom: e.header_from,
    subject: e.subject,
    messageId: e.message_id_header,
    category: e.category,
    score: e.score,
    reason: e.reason,
    size: Number(e.size),
    state: e.state,
    // A domain administrator sees its own recipients only, not who else got the message.
    recipients: e.recipients
      .filter((r) => canSeeDomain(actor, domainOf(r.address)))
      .map((r) => ({ address: r.address, state: r.state, releasedAt: iso(r.released_at), releasedAs: r.released_as })),
  };
}

export async function listQuarantine(d: QuarantineDeps, actor: Actor, q: QuarantineQuery = {}): Promise<Page<QuarantineItem>> {
  assertCan(actor, 'quarantine.read');
  const limit = pageSize(q.limit);
  if (q.state !== undefined && !QUARANTINE_STATES.includes(q.state)) throw invalid('state', `state must be one of ${QUARANTINE_STATES.join(', ')}`);
  if (q.minScore !== undefined && !Number.isFinite(q.minScore)) throw invalid('minScore', 'minScore must be a number');
  const before = decodeCursor(q.cursor, (v): v is [number, string] => Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'string');
  const fromMs = timeArg('from', q.from);
  const toMs = timeArg('to', q.to);
  const rows = await pageQuarantine(d.db, {
    ...(before ? { before } : {}),
    ...(q.recipient ? { recipient: q.recipient } : {}),
    ...(q.sender ? { sender: q.sender } : {}),
    ...(q.category ? { category: q.category } : {}),
    ...(q.minScore !== undefined ? { minScore: q.minScore } : {}),
    ...(fromMs !== undefined ? { fromMs } : {}),
    ...(toMs !== undefined ? { toMs } : {}),
    state: q.state ?? 'held',
    ...(actor.domains ? { scope: actor.domains } : {}),
    limit: limit + 1,
  });
  return toPage(rows, limit, (e) => toItem(e, actor), (e) => [Number(e.held_at), e.id]);
}

/** A full quarantine id or a unique prefix of one. */
export async function resolveQuarantineId(db: Db, id: string): Promise<string> {
  try {
    return await findQuarantineId(db, id);
  } catch (err) {
    throw new ServiceError(/ambiguous/.test((err as Error).message) ? 'invalid' : 'not_found', (err as Error).message);
  }
}

/** The entry, if the actor may see it: for a domain administrator, one of its recipients is in its domains. */
async function loadEntry(d: QuarantineDeps, actor: Actor, id: string): Promise<QuarantineEntry> {
  const qid = await resolveQuarantineId(d.db, id);
  let e: QuarantineEntry;
  try {
    e = await d.store.get(qid);
  } catch {
    throw new ServiceError('not_found', `no quarantined message with id ${id}`);
  }
  if (!e.recipients.some((r) => canSeeDomain(actor, domainOf(r.address)))) throw new ServiceError('not_found', `no quarantined message with id ${id}`);
  return e;
}

async function rawOf(d: QuarantineDeps, e: QuarantineEntry): Promise<Buffer> {
  if (e.state === 'deleted') throw new ServiceError('conflict', `quarantined message ${e.id} was deleted: only its summary is kept`);
  return d.store.raw(e.id);
}

export async function getQuarantineItem(d: QuarantineDeps, actor: Actor, id: string, opts: { headers?: boolean } = {}): Promise<QuarantineDetail> {
  assertCan(actor, 'quarantine.read');
  const e = await loadEntry(d, actor, id);
  const headers = opts.headers === false || e.state === 'deleted' ? [] : await parseHeaders(await rawOf(d, e));
  return { ...toItem(e, actor), symbols: JSON.parse(e.symbols) as QuarantineDetail['symbols'], headers };
}

export async function rawQuarantined(d: QuarantineDeps, actor: Actor, id: string): Promise<Buffer> {
  assertCan(actor, 'quarantine.read');
  return rawOf(d, await loadEntry(d, actor, id));
}

export async function renderQuarantined(d: QuarantineDeps, actor: Actor, id: string, opts: { allowRemote?: boolean } = {}): Promise<MessageRendering> {
  assertCan(actor, 'quarantine.read');
  return renderMessage(await rawOf(d, await loadEntry(d, actor, id)), opts);
}

/** The recipients this actor releases: those asked for (each must be its own), or every held one it may see. */
function releasable(e: QuarantineEntry, actor: Actor, asked?: string[]): string[] | undefined {
  if (asked?.length) {
    for (const r of asked) if (!canSeeDomain(actor, domainOf(r))) throw new ServiceError('forbidden', `you are not an administrator of ${domainOf(r)}`);
    return asked;
  }
  if (actor.domains === null) return undefined;
  return e.recipients.filter((r) => r.state === 'held' && canSeeDomain(actor, domainOf(r.address))).map((r) => r.address);
}

function storeError(err: unknown): never {
  if (err instanceof ServiceError) throw err;
  const m = (err as Error).message;
  if (/is not a recipient/.test(m)) throw new ServiceError('invalid', m, { recipients: m });
  if (/no longer held|no recipient left|already deleted|changed meanwhile/.test(m)) throw new ServiceError('conflict', m);
  if (/no Bayes store/.test(m)) throw new ServiceError('unavailable', m);
  throw err;
}

const by = (actor: Actor) => (actor.kind === 'cli' ? 'cli' : `${actor.kind}:${actor.name}`);
const domainFor = (e: QuarantineEntry) => (e.recipients[0] ? domainOf(e.recipients[0].address) : null);

export async function releaseQuarantined(d: QuarantineDeps, actor: Actor, id: string, opts: { recipients?: string[]; learnHam?: boolean } = {}): Promise<ReleaseResult> {
  assertCan(actor, 'quarantine.write');
  const e = await loadEntry(d, actor, id);
  const recipients = releasable(e, actor, opts.recipients);
  if (recipients && !recipients.length) throw new ServiceError('conflict', `quarantined message ${e.id} has no recipient of yours left to release`);
  let r: ReleaseResult;
  try {
    const o = { by: by(actor), ...(recipients ? { recipients } : {}) };
    r = opts.learnHam ? await d.store.releaseAndLearnHam(e.id, o) : await d.store.release(e.id, o);
  } catch (err) {
    storeError(err);
  }
  // The release itself spans the spool and the index (its own transactions); the entry follows it.
  await recordChange(d.db, actor, {
    action: opts.learnHam ? 'quarantine.release-learn-ham' : 'quarantine.release',
    targetType: 'quarantine',
    targetId: e.id,
    domain: domainOf(r.recipients[0] ?? e.recipients[0]?.address ?? ''),
    before: { state: e.state },
    after: { queueId: r.queueId, recipients: r.recipients },
  });
  return r;
}

export async function learnQuarantined(d: QuarantineDeps, actor: Actor, id: string, as: 'spam' | 'ham'): Promise<{ id: string; learned: 'spam' | 'ham' }> {
  assertCan(actor, 'quarantine.write');
  if (as !== 'spam' && as !== 'ham') throw invalid('as', 'as must be "spam" or "ham"');
  if (!d.learn) throw new ServiceError('unavailable', 'this install has no Bayes store to learn with');
  const e = await loadEntry(d, actor, id);
  await d.learn(await rawOf(d, e), as);
  await d.db.insertInto('events').values({ message_id: e.message_id, at: Date.now(), type: 'quarantine-learned', recipient: null, detail: JSON.stringify({ quarantineId: e.id, as, by: by(actor) }) }).execute();
  await recordChange(d.db, actor, { action: `quarantine.learn-${as}`, targetType: 'quarantine', targetId: e.id, domain: domainFor(e), after: { learned: as } });
  return { id: e.id, learned: as };
}

export async function deleteQuarantined(d: QuarantineDeps, actor: Actor, id: string): Promise<{ id: string }> {
  assertCan(actor, 'quarantine.write');
  const e = await loadEntry(d, actor, id);
  if (!e.recipients.every((r) => canSeeDomain(actor, domainOf(r.address)))) throw new ServiceError('forbidden', `quarantined message ${e.id} is also held for domains you do not administer; ask an administrator`);
  try {
    await d.store.delete(e.id, { by: by(actor) });
  } catch (err) {
    storeError(err);
  }
  await recordChange(d.db, actor, { action: 'quarantine.delete', targetType: 'quarantine', targetId: e.id, domain: domainFor(e), before: { state: e.state, from: e.mail_from, subject: e.subject } });
  return { id: e.id };
}

export interface BulkResult {
  id: string;
  ok: boolean;
  error?: { code: string; message: string };
}

/** One action on many entries; each succeeds or fails on its own (the results say which). */
export async function bulkQuarantine(d: QuarantineDeps, actor: Actor, ids: string[], action: BulkAction): Promise<BulkResult[]> {
  assertCan(actor, 'quarantine.write');
  if (!BULK_ACTIONS.includes(action)) throw invalid('action', `action must be one of ${BULK_ACTIONS.join(', ')}`);
  if (!Array.isArray(ids) || !ids.length || ids.length > 500) throw invalid('ids', 'ids must list 1 to 500 quarantine ids');
  const results: BulkResult[] = [];
  for (const id of ids) {
    try {
      if (action === 'release') await releaseQuarantined(d, actor, id);
      else if (action === 'release-learn-ham') await releaseQuarantined(d, actor, id, { learnHam: true });
      else if (action === 'delete') await deleteQuarantined(d, actor, id);
      else await learnQuarantined(d, actor, id, action === 'learn-spam' ? 'spam' : 'ham');
      results.push({ id, ok: true });
    } catch (err) {
      if (!(err instanceof ServiceError)) throw err;
      results.push({ id, ok: false, error: { code: err.code, message: err.message } });
    }
  }
  return results;
}
