// Message trace: find messages by address, subject, Message-ID, queue id, client
// address, time range and verdict, and read the timeline of one: every decision and
// every change to it. Domain administrators see mail from or to their domains only.
import type { Db } from '../db/database.ts';
import { messageEvents } from '../db/repos/queue.ts';
import { childMessages, lookupAddressOrMessageId, quarantinedIds, recipientsOf, searchMessages, TRACE_VERDICTS, type TraceVerdict } from '../db/repos/trace.ts';
import type { EventRow, MessageRow, RecipientRow } from '../db/schema.ts';
import { assertCan, type Actor } from './actor.ts';
import { decodeCursor, pageSize, toPage, type Page } from './page.ts';
import { loadScoped, resolveQueueId } from './queue-service.ts';
import { invalid, iso, timeArg } from './validation.ts';
import type { TraceDetail, TraceEvent, TraceRecipient, TraceSummary } from '../shared/trace.ts';

export type { TraceDetail, TraceEvent, TraceRecipient, TraceSummary };

export interface TraceQuery {
  cursor?: string;
  limit?: number;
  address?: string;
  sender?: string;
  recipient?: string;
  subject?: string;
  messageId?: string;
  queueId?: string;
  clientIp?: string;
  from?: string | number | Date;
  to?: string | number | Date;
  verdict?: string;
}

/** One word for what became of a message: worst outcome first. */
export function verdictOf(msg: Pick<MessageRow, 'state'>, rcpts: Pick<RecipientRow, 'status'>[], quarantined: boolean): TraceVerdict {
  if (msg.state === 'rejected') return 'rejected';
  if (quarantined) return 'quarantined';
  for (const s of ['bounced', 'expired', 'deferred', 'queued', 'delivered', 'deleted'] as const) if (rcpts.some((r) => r.status === s)) return s;
  return msg.state === 'queued' ? 'queued' : 'delivered';
}

const toRecipient = (r: RecipientRow): TraceRecipient => ({ address: r.address, status: r.status, attempts: Number(r.attempts), route: r.route, lastReply: r.last_reply });

function summary(m: MessageRow, rcpts: RecipientRow[], quarantined: boolean): TraceSummary {
  return {
    id: m.id,
    receivedAt: iso(m.received_at)!,
    direction: m.direction,
    from: m.mail_from,
    subject: m.subject,
    messageId: m.message_id,
    clientIp: m.client_ip,
    size: Number(m.size),
    state: m.state,
    verdict: verdictOf(m, rcpts, quarantined),
    recipients: rcpts.map(toRecipient),
  };
}

export async function searchTrace(db: Db, actor: Actor, q: TraceQuery = {}): Promise<Page<TraceSummary>> {
  assertCan(actor, 'trace.read');
  const limit = pageSize(q.limit);
  if (q.verdict !== undefined && q.verdict !== '' && !TRACE_VERDICTS.includes(q.verdict as TraceVerdict)) throw invalid('verdict', `verdict must be one of ${TRACE_VERDICTS.join(', ')}`);
  const before = decodeCursor(q.cursor, (v): v is [number, string] => Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'string');
  const fromMs = timeArg('from', q.from);
  const toMs = timeArg('to', q.to);
  const opt = <K extends string, V>(k: K, v: V | undefined | '') => (v === undefined || v === '' ? {} : ({ [k]: v } as Record<K, V>));
  const rows = await searchMessages(db, {
    ...(before ? { before } : {}),
    ...opt('address', q.address),
    ...opt('sender', q.sender),
    ...opt('recipient', q.recipient),
    ...opt('subject', q.subject),
    ...opt('messageId', q.messageId),
    ...opt('queueId', q.queueId),
    ...opt('clientIp', q.clientIp),
    ...opt('fromMs', fromMs),
    ...opt('toMs', toMs),
    ...opt('verdict', q.verdict as TraceVerdict | undefined),
    ...(actor.domains ? { scope: actor.domains } : {}),
    limit: limit + 1,
  });
  const ids = rows.slice(0, limit).map((r) => r.id);
  const [rcpts, held] = await Promise.all([recipientsOf(db, ids), quarantinedIds(db, ids)]);
  return toPage(rows, limit, (m) => summary(m, rcpts.get(m.id) ?? [], held.has(m.id)), (m) => [Number(m.received_at), m.id]);
}

function parseDetail(detail: string | null): unknown {
  if (detail === null) return null;
  try {
    return JSON.parse(detail);
  } catch {
    return detail;
  }
}

function parentLabel(m: MessageRow, events: EventRow[]): string | null {
  if (!m.parent_id) return null;
  if (m.direction === 'dsn') return 'Report on';
  return events.some((e) => e.type === 'split') ? 'Copy of' : 'Parent';
}

/** One message with its recipients and its whole timeline. */
export async function getTrace(db: Db, actor: Actor, id: string): Promise<TraceDetail> {
  assertCan(actor, 'trace.read');
  const mid = await resolveQueueId(db, id);
  const { msg, rcpts } = await loadScoped(db, actor, mid, 'read');
  const [events, held, children] = await Promise.all([messageEvents(db, mid), quarantinedIds(db, [mid]), childMessages(db, mid)]);
  return {
    ...summary(msg, rcpts, held.has(mid)),
    clientHelo: msg.client_helo,
    clientPtr: msg.client_ptr,
    tls: msg.tls,
    doneAt: iso(msg.done_at),
    parentId: msg.parent_id,
    parentLabel: parentLabel(msg, events),
    quarantineIds: held.get(mid) ?? [],
    children: children.map((c) => ({ id: c.id, direction: c.direction, receivedAt: iso(c.received_at)! })),
    events: events.map((e) => ({ id: Number(e.id), at: iso(e.at)!, type: e.type, recipient: e.recipient, detail: parseDetail(e.detail) })),
  };
}

export interface TraceLookupRow {
  id: string;
  receivedAt: string;
  from: string;
  subject: string | null;
  state: string;
  recipient: string | null;
  status: string | null;
}

/** Messages from or to an address, or by Message-ID, one row per recipient (the CLI's "hermes trace <query>"). */
export async function lookupTrace(db: Db, actor: Actor, query: string, limit = 20): Promise<TraceLookupRow[]> {
  assertCan(actor, 'trace.read');
  if (!Number.isInteger(limit) || limit < 1) throw invalid('limit', 'limit must be a whole number, at least 1');
  const rows = await lookupAddressOrMessageId(db, query, limit, actor.domains ?? undefined);
  return rows.map((r) => ({ id: r.id, receivedAt: iso(r.received_at)!, from: r.mail_from, subject: r.subject, state: r.state, recipient: r.address, status: r.status }));
}
