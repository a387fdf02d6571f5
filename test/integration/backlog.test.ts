// A backlog many times the scheduler's batch, acknowledged while the next hop never
// greets, survives kill -9 and is all delivered once the hop is fixed, without another
// restart (issue 10). The batch is a setting (delivery.resumeBatch, 5,000 by default);
// the test makes it small so a suite-sized backlog is several batches deep.
// BACKLOG_MESSAGES=20000 BACKLOG_BATCH=5000 runs the full-size case.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createTestGateway, eventually } from '../helpers/gateway.ts';
import { findFreePort, runSmtpSource, startSmtpSink } from '../helpers/peers.ts';
import { upsertRelayDomain } from '../../src/db/repos/relay-policy.ts';
import { setSetting } from '../../src/config/settings.ts';
import { assertNoStrandedRecipients } from '../helpers/queue-watchdog.ts';
import { sendMessage, simpleMessage } from '../helpers/smtp-probe.ts';

const MESSAGES = Number(process.env.BACKLOG_MESSAGES ?? 1200);
const BATCH = Number(process.env.BACKLOG_BATCH ?? 100);
// Waits grow with the backlog: the full-size case moves 20,000 messages each way.
const WAIT_MS = Math.max(60_000, MESSAGES * 15);

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

/** Accepts connections and never says a word: the next hop of a bad night. */
async function startSilentServer(port: number): Promise<{ close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

test(`${MESSAGES} acknowledged messages (batch ${BATCH}), kill -9, hop fixed: all delivered without another restart`, async () => {
  const hopPort = await findFreePort();
  const silent = await startSilentServer(hopPort);
  cleanups.push(() => silent.close());
  const gw = await createTestGateway();
  cleanups.push(() => gw.cleanup());
  await upsertRelayDomain(gw.db, { domain: 'example.com', nextHop: `127.0.0.1:${hopPort}` });
  await setSetting(gw.db, 'delivery.resumeBatch', BATCH);
  await setSetting(gw.db, 'delivery.connectTimeoutSec', 2);
  await setSetting(gw.db, 'delivery.retry', { minimalBackoffSec: 1, maximalBackoffSec: 2, queueLifetimeSec: 86400 });
  await setSetting(gw.db, 'filter.enabled', false);
  await setSetting(gw.db, 'auth.verify', false);
  await gw.start();
  const t0 = Date.now();
  const src = await runSmtpSource({ host: '127.0.0.1', port: gw.port, messages: MESSAGES, sessions: 10, sizeBytes: 1024, from: 'bulk@outside.test', to: 'backlog@example.com' });
  assert.equal(src.exitCode, 0, src.stderr);
  const acked = await eventually(
    async () => {
      const n = Number((await gw.db.selectFrom('messages').select((eb) => eb.fn.countAll<number>().as('n')).where('state', '=', 'queued').executeTakeFirst())?.n ?? 0);
      return n >= MESSAGES ? n : null;
    },
    WAIT_MS,
    `${MESSAGES} messages queued`,
  );
  const acceptedMs = Date.now() - t0;
  await gw.kill();
  await silent.close();
  const sink = await startSmtpSink({ port: hopPort, countOnly: true });
  cleanups.push(() => sink.stop());
  const t1 = Date.now();
  await gw.start();
  const delivered = await sink.waitForCount(acked, Math.max(150_000, WAIT_MS));
  const deliveredMs = Date.now() - t1;
  console.log(`backlog ${acked}: accepted in ${acceptedMs} ms, delivered after restart in ${deliveredMs} ms (batch ${BATCH})`);
  assert.ok(delivered >= acked, `${delivered} of ${acked} delivered`);
  await eventually(
    async () => Number((await gw.db.selectFrom('messages').select((eb) => eb.fn.countAll<number>().as('n')).where('state', '=', 'queued').executeTakeFirst())?.n ?? 0) === 0,
    60_000,
    'every message done',
  );
  await assertNoStrandedRecipients(gw.db);
  assert.equal(await gw.stop(), 0);
});

test('a recipient whose spool file is missing is deferred on the retry schedule, not retried every poll', async () => {
  const sink = await startSmtpSink();
  cleanups.push(() => sink.stop());
  await sink.stop();
  const gw = await createTestGateway();
  cleanups.push(() => gw.cleanup());
  await upsertRelayDomain(gw.db, { domain: 'example.com', nextHop: `127.0.0.1:${sink.port}` });
  await setSetting(gw.db, 'delivery.retry', { minimalBackoffSec: 1, maximalBackoffSec: 2, queueLifetimeSec: 86400 });
  await gw.start();
  const r = await sendMessage(gw.port, { from: 'a@outside.test', to: ['gone@example.com'] }, simpleMessage({ from: 'a@outside.test', to: 'gone@example.com', subject: 'file will vanish' }));
  assert.ok(r.ok, r.response);
  const id = /queued as ([0-9A-Z]+)/.exec(r.response)![1]!;
  await eventually(async () => (await gw.db.selectFrom('recipients').select('status').where('message_id', '=', id).executeTakeFirst())?.status === 'deferred', 15_000, 'deferred');
  assert.equal(await gw.stop(), 0);
  const msg = await gw.db.selectFrom('messages').select('spool_file').where('id', '=', id).executeTakeFirstOrThrow();
  rmSync(join(gw.dataDir, 'spool', msg.spool_file));
  // From here on a retry is an hour away: only the missing-file handling can move it.
  await setSetting(gw.db, 'delivery.retry', { minimalBackoffSec: 3600, maximalBackoffSec: 3600, queueLifetimeSec: 86400 });
  await gw.db.updateTable('recipients').set({ next_attempt_at: Date.now() }).where('message_id', '=', id).execute();
  await sink.restart();
  await gw.start();
  const row = await eventually(
    async () => {
      const x = await gw.db.selectFrom('recipients').selectAll().where('message_id', '=', id).executeTakeFirstOrThrow();
      return /spool file/.test(x.last_reply ?? '') ? x : null;
    },
    20_000,
    'the missing file recorded as the reason',
  );
  assert.equal(row.status, 'deferred');
  assert.ok(row.next_attempt_at > Date.now() + 1800_000, 'next attempt on the retry schedule');
  const attempts = row.attempts;
  await new Promise((res) => setTimeout(res, 3000));
  const later = await gw.db.selectFrom('recipients').select('attempts').where('message_id', '=', id).executeTakeFirstOrThrow();
  assert.equal(later.attempts, attempts, 'not retried every poll');
  await assertNoStrandedRecipients(gw.db);
  assert.equal(await gw.stop(), 0);
});
