// `hermes trace`: what happened to a message, readable by an admin at a glance. The
// lookups are in services/trace-service.ts; this file prints them.
import type { Command } from 'commander';
import type { Db } from '../db/database.ts';
import { cliActor } from '../services/actor.ts';
import { getTrace, lookupTrace } from '../services/trace-service.ts';
import { fmtTime, printTable, withDataDir, withDb } from './context.ts';
import { isQueueId } from '../spool/queue-id.ts';

type D = { dataDir: string };

const ms = (iso: string | null) => (iso === null ? null : Date.parse(iso));

export async function printTrace(db: Db, id: string): Promise<void> {
  const t = await getTrace(db, cliActor(), id.toUpperCase()).catch((err: Error) => {
    throw /^no message/.test(err.message) ? new Error(`no message with queue id ${id}`) : err;
  });
  const line = (k: string, v: unknown) => console.log(`${k.padEnd(12)}${v === null || v === undefined || v === '' ? '-' : v}`);
  line('Queue id', t.id);
  line('Received', fmtTime(ms(t.receivedAt)));
  line('Direction', t.direction);
  line('Client', t.clientIp ? `${t.clientHelo ?? '?'} [${t.clientIp}]` : '(generated here)');
  line('TLS', t.tls ?? 'no');
  line('From', t.from || '<>');
  line('Size', `${t.size} bytes`);
  line('Message-ID', t.messageId);
  line('Subject', t.subject);
  line('State', t.state + (t.doneAt ? ` (${fmtTime(ms(t.doneAt))})` : ''));
  if (t.parentId) line(t.parentLabel!, t.parentId);
  console.log('\nRecipients');
  printTable(
    t.recipients.map((r) => ({ recipient: r.address, status: r.status, attempts: r.attempts, route: r.route, last_reply: r.lastReply ?? '' })),
    ['recipient', 'status', 'attempts', 'route', 'last_reply'],
  );
  console.log('\nTimeline');
  for (const e of t.events) {
    console.log(`${fmtTime(ms(e.at))}  ${e.type.padEnd(14)} ${e.recipient ? `<${e.recipient}> ` : ''}${describe(e.detail)}`);
  }
}

function describe(d: unknown): string {
  if (!d || typeof d !== 'object') return String(d ?? '');
  return Object.entries(d)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
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
      const rows = await lookupTrace(db, cliActor(), query, Number(o.limit));
      if (rows.length === 1) return printTrace(db, rows[0]!.id);
      printTable(
        rows.map((r) => ({ id: r.id, received: fmtTime(ms(r.receivedAt)), from: r.from || '<>', to: r.recipient, status: r.status ?? r.state, subject: (r.subject ?? '').slice(0, 50) })),
        ['id', 'received', 'from', 'to', 'status', 'subject'],
        `no messages from or to ${query}`,
      );
    });
  });
}
