// Trace retention over a temporary database: only finished messages past the window go,
// with their recipients and events; queued and quarantined mail stays; the file stops
// growing once traffic and purging balance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import pino from 'pino';
import { withDb } from '../helpers/temp-db.ts';
import { dialectOf, type Db } from '../../src/db/database.ts';
import type { MessageState } from '../../src/db/schema.ts';
import { purgeFinishedTraces } from '../../src/db/repos/trace-retention.ts';
import { startTraceRetention } from '../../src/ops/retention-timer.ts';
import { setSetting, loadSettings } from '../../src/config/settings.ts';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 5, 1);

async function addMessage(db: Db, id: string, state: MessageState, doneDaysAgo: number | null, events = 3): Promise<void> {
  const at = NOW - (doneDaysAgo ?? 0) * DAY - 1000;
  await db
    .insertInto('messages')
    .values({ id, received_at: at, node: 0, direction: 'inbound', client_ip: '192.0.2.1', client_helo: 'h', client_ptr: null, tls: null, mail_from: 'a@x.test', size: 100, message_id: `<${id}@x>`, subject: 's', spool_file: '', state, parent_id: null, done_at: doneDaysAgo === null ? null : at })
    .execute();
  await db.insertInto('recipients').values({ message_id: id, idx: 0, address: 'b@y.test', domain: 'y.test', route: 'mx:y.test', require_tls: 0, status: state === 'queued' ? 'queued' : 'delivered', attempts: 1, first_attempt_at: at, next_attempt_at: at, last_reply: '250 ok', updated_at: at }).execute();
  for (let i = 0; i < events; i++) await db.insertInto('events').values({ message_id: id, at, type: 'received', recipient: null, detail: JSON.stringify({ pad: 'x'.repeat(200), i }) }).execute();
}

const ids = async (db: Db, table: 'messages' | 'recipients' | 'events') =>
  (await db.selectFrom(table).select(table === 'messages' ? 'id as id' : 'message_id as id').execute()).map((r) => r.id).sort();

test('purge removes finished messages past the window with their recipients and events, nothing else', () =>
  withDb(async (db) => {
    await addMessage(db, 'OLDDONE', 'done', 40);
    await addMessage(db, 'OLDREJECTED', 'rejected', 40);
    await addMessage(db, 'NEWDONE', 'done', 5);
    await addMessage(db, 'OLDQUEUED', 'queued', null);
    await db.updateTable('messages').set({ received_at: NOW - 90 * DAY }).where('id', '=', 'OLDQUEUED').execute();
    await addMessage(db, 'OLDHELD', 'done', 40);
    await db
      .insertInto('quarantine')
      .values({ id: 'Q1', message_id: 'OLDHELD', received_at: NOW, held_at: NOW, direction: 'inbound', mail_from: 'a@x.test', header_from: null, subject: null, message_id_header: null, category: 'spam', score: 9, symbols: '[]', reason: 'spam', size: 1, file: 'q1', state: 'held', updated_at: NOW })
      .execute();
    const r = await purgeFinishedTraces(db, NOW - 30 * DAY, 1);
    assert.equal(r.messages, 2);
    assert.equal(r.batches, 2, 'one message per batch at batch size 1');
    const kept = ['NEWDONE', 'OLDHELD', 'OLDQUEUED'];
    assert.deepEqual(await ids(db, 'messages'), kept);
    assert.deepEqual(await ids(db, 'recipients'), kept);
    assert.deepEqual([...new Set(await ids(db, 'events'))], kept);
    assert.equal((await purgeFinishedTraces(db, NOW - 30 * DAY)).messages, 0, 'a second run finds nothing');
  }));

test('the timer purges with the current retention.traceDays setting', () =>
  withDb(async (db) => {
    await addMessage(db, 'TENDAYS', 'done', 10);
    await setSetting(db, 'retention.traceDays', 30);
    let days = (await loadSettings(db))['retention.traceDays'];
    const timer = startTraceRetention({ db, retentionDays: () => days, log: pino({ level: 'silent' }), firstRunMs: 60_000, now: () => NOW });
    try {
      await timer.runNow();
      assert.deepEqual(await ids(db, 'messages'), ['TENDAYS']);
      await setSetting(db, 'retention.traceDays', 7);
      days = (await loadSettings(db))['retention.traceDays'];
      await timer.runNow();
      assert.deepEqual(await ids(db, 'messages'), []);
    } finally {
      timer.stop();
    }
    await assert.rejects(setSetting(db, 'retention.traceDays', 0), /between 1 and 3650/);
  }));

test('bounded disk use: after a purge, the same traffic again reuses the freed pages', () =>
  withDb(async (db) => {
    // SQLite: the file's pages; PostgreSQL: the trace tables' pages.
    const pageCount = async () =>
      dialectOf(db) === 'postgres'
        ? Number((await sql<{ n: number }>`SELECT (pg_relation_size('events') + pg_relation_size('recipients') + pg_relation_size('messages')) / 8192 AS n`.execute(db)).rows[0]!.n)
        : Number((await sql<{ page_count: number }>`PRAGMA page_count`.execute(db)).rows[0]!.page_count);
    const fill = async (prefix: string) => {
      for (let i = 0; i < 400; i++) await addMessage(db, `${prefix}${i}`, 'done', 40, 5);
    };
    await fill('A');
    const full = await pageCount();
    await purgeFinishedTraces(db, NOW - 30 * DAY);
    await fill('B');
    const again = await pageCount();
    assert.ok(again <= full * 1.05, `pages after purge and refill ${again}, first fill ${full}`);
  }));
