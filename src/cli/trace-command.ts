// `hermes trace`: what happened to a message, readable by an admin at a glance.
import type { Command } from 'commander';
import type { Db } from '../db/database.ts';
import { fmtTime, printTable, withDataDir, withDb } from './context.ts';
import { isQueueId } from '../spool/queue-id.ts';

type D = { dataDir: string };

export async function printTrace(db: Db, id: string): Promise<void> {
  const msg = await db.selectFrom('messages').selectAll().where('id', '=', id.toUpperCase()).executeTakeFirst();
  if (!msg) throw new Error(`no message with queue id ${id}`);
  const line = (k: string, v: unknown) => console.log(`${k.padEnd(12)}${v === null || v === undefined || v === '' ? '-' : v}`);
  line('Queue id', msg.id);
  line('Received', fmtTime(msg.received_at));
  line('Direction', msg.direction);
  line('Client', msg.client_ip ? `${msg.client_helo ?? '?'} [${msg.client_ip}]` : '(generated here)');
  line('TLS', msg.tls ?? 'no');
  line('From', msg.mail_from || '<>');
  line('Size', `${msg.size} bytes`);
  line('Message-ID', msg.message_id);
  line('Subject', msg.subject);
  line('State', msg.state + (msg.done_at ? ` (${fmtTime(msg.done_at)})` : ''));
  const events = await db.selectFrom('events').selectAll().where('message_id', '=', msg.id).orderBy('id').execute();
  if (msg.parent_id) line(parentLabel(msg.direction, events), msg.parent_id);
  const rcpts = await db.selectFrom('recipients').selectAll().where('message_id', '=', msg.id).orderBy('idx').execute();
  console.log('\nRecipients');
  printTable(
    rcpts.map((r) => ({ recipient: r.address, status: r.status, attempts: r.attempts, route: r.route, last_reply: r.last_reply ?? '' })),
    ['recipient', 'status', 'attempts', 'route', 'last_reply'],
  );
  console.log('\nTimeline');
  for (const e of events) {
    console.log(`${fmtTime(e.at)}  ${e.type.padEnd(14)} ${e.recipient ? `<${e.recipient}> ` : ''}${describe(e.detail)}`);
  }
}

/**
 * What the parent of a message is to it: the message a DSN reports on, or the message a
 * copy was split from by the decide stage (its trace opens with a 'split' event).
 */
function parentLabel(direction: string, events: ReadonlyArray<{ type: string }>): string {
  if (direction === 'dsn') return 'Report on';
  return events.some((e) => e.type === 'split') ? 'Copy of' : 'Parent';
}

function describe(detail: string | null): string {
  if (!detail) return '';
  try {
    const d = JSON.parse(detail) as Record<string, unknown> | null;
    if (!d || typeof d !== 'object') return String(d ?? '');
    return Object.entries(d)
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
  } catch {
    return detail;
  }
}

export function registerTrace(program: Command): void {
  withDataDir(
    program
      .command('trace <query>')
      .description('show what happened to a message: by queue id, or the latest messages from or to an address, or by Message-ID')
      .option('--limit <n>', 'messages to show for an address', '20'),
  ).action(async (query: string, o: D & { limit: string }) => {
    await withDb(o.dataDir, async (db) => {
      if (isQueueId(query.toUpperCase())) return printTrace(db, query);
      const q = query.replace(/^<|>$/g, '').toLowerCase();
      const rows = await db
        .selectFrom('messages')
        .leftJoin('recipients', 'recipients.message_id', 'messages.id')
        .select(['messages.id', 'messages.received_at', 'messages.mail_from', 'messages.subject', 'messages.state', 'recipients.address', 'recipients.status'])
        .where((eb) => eb.or([eb(eb.fn('lower', ['messages.mail_from']), '=', q), eb('recipients.address', '=', q), eb('messages.message_id', '=', `<${q}>`), eb('messages.message_id', '=', query)]))
        .orderBy('messages.received_at', 'desc')
        .limit(Number(o.limit))
        .execute();
      if (rows.length === 1) return printTrace(db, rows[0]!.id);
      printTable(
        rows.map((r) => ({ id: r.id, received: fmtTime(r.received_at), from: r.mail_from || '<>', to: r.address, status: r.status ?? r.state, subject: (r.subject ?? '').slice(0, 50) })),
        ['id', 'received', 'from', 'to', 'status', 'subject'],
        `no messages from or to ${query}`,
      );
    });
  });
}
