// Crashes the gateway must come back from by itself: both cluster workers killed at once
// (the primary restarts them, it never exits 0 on its own), and kill -9 while DSNs are
// being decided (a DSN and its decision are one commit: never two DSNs, never none).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createTestGateway, eventually, type TestGateway } from '../helpers/gateway.ts';
import { runSmtpSource, startSmtpSink, type SmtpSink } from '../helpers/peers.ts';
import { sendMessage, simpleMessage } from '../helpers/smtp-probe.ts';
import { upsertRelayDomain } from '../../src/db/repos/relay-policy.ts';
import { setSetting } from '../../src/config/settings.ts';
import { assertNoStrandedRecipients } from '../helpers/queue-watchdog.ts';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

async function setup(): Promise<{ gw: TestGateway; sink: SmtpSink }> {
  const sink = await startSmtpSink();
  cleanups.push(() => sink.stop());
  const gw = await createTestGateway();
  cleanups.push(() => gw.cleanup());
  await upsertRelayDomain(gw.db, { domain: 'example.com', nextHop: `127.0.0.1:${sink.port}` });
  await setSetting(gw.db, 'delivery.retry', { minimalBackoffSec: 1, maximalBackoffSec: 2, queueLifetimeSec: 3600 });
  return { gw, sink };
}

/** The cluster workers of a running gateway (children of its primary). */
function workerPids(primary: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(primary)], { encoding: 'utf8' }).split('\n').map((l) => Number(l.trim())).filter((n) => n > 0);
  } catch {
    return []; // ps exits 1 when there are none
  }
}

test('both workers killed at once, three times: the gateway comes back by itself and keeps accepting', async () => {
  const { gw, sink } = await setup();
  await gw.start();
  const primary = gw.pid()!;
  let exitCode: number | null | undefined;
  const probe = async (tag: string) => {
    const r = await sendMessage(gw.port, { from: 'a@outside.test', to: ['both@example.com'] }, simpleMessage({ from: 'a@outside.test', to: 'both@example.com', subject: tag }));
    return r.ok ? r : null;
  };
  for (let round = 1; round <= 3; round++) {
    const before = await eventually(() => (workerPids(primary).length === 2 ? workerPids(primary) : null), 30_000, `two workers (round ${round})`);
    assert.ok(await eventually(() => probe(`before-kill-${round}`), 30_000, `a 250 before round ${round}`));
    for (const pid of before) process.kill(pid, 'SIGKILL');
    // The primary stays up, forks new workers, and they take mail again.
    await eventually(() => { const now = workerPids(primary); return now.length === 2 && now.every((p) => !before.includes(p)); }, 60_000, `two new workers (round ${round})`);
    assert.ok(gw.pid() === primary, `the primary is still running (round ${round})`);
    assert.ok(await eventually(() => probe(`after-kill-${round}`), 30_000, `a 250 after round ${round}`));
  }
  for (let round = 1; round <= 3; round++) {
    await eventually(async () => (await sink.messages()).some((m) => m.raw.includes(`after-kill-${round}`)), 30_000, `delivery of after-kill-${round}`);
  }
  await assertNoStrandedRecipients(gw.db);
  exitCode = await gw.stop();
  assert.equal(exitCode, 0, 'a requested stop still exits 0');
});

test('bouncing mail under three kill -9s: no message gets two DSNs, none gets none', async () => {
  const { gw, sink } = await setup();
  const rejecting = await startSmtpSink({ hardReject: ['RCPT'] });
  cleanups.push(() => rejecting.stop());
  await upsertRelayDomain(gw.db, { domain: 'reject.test', nextHop: `127.0.0.1:${rejecting.port}` });
  await gw.start();
  const bounced = async () =>
    Number((await gw.db.selectFrom('recipients').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', 'bounced').executeTakeFirst())?.n ?? 0);
  for (let round = 0; round < 3; round++) {
    const load = runSmtpSource({ host: '127.0.0.1', port: gw.port, messages: 150, sessions: 10, sizeBytes: 512, from: 'writer@example.com', to: 'nobody@reject.test' });
    const start = await bounced();
    await eventually(async () => (await bounced()) >= start + 40, 60_000, `bounces under way (round ${round})`);
    await gw.kill(); // while DSNs are being decided
    await load;
    await gw.start();
  }
  await assertNoStrandedRecipients(gw.db);
  const failedMessages = await gw.db
    .selectFrom('recipients')
    .innerJoin('messages', 'messages.id', 'recipients.message_id')
    .select('messages.id')
    .distinct()
    .where('recipients.status', '=', 'bounced')
    .where('messages.direction', '!=', 'dsn')
    .execute();
  // Per reported message, the distinct DSNs (by Message-ID). The same DSN arriving twice
  // is at-least-once delivery of one message (a crash after the sink's 250); two DSN
  // messages for one original would be two decisions, which is the defect.
  const perQueueId = async () => {
    const dsns = new Map<string, Set<string>>();
    let copies = 0;
    for (const m of await sink.messages()) {
      const raw = m.raw.toString('latin1');
      // The DSN's Message-ID carries the queue id of the message it reports on.
      const found = /^Message-ID:\s*(<\d{14}\.([0-9A-Z]+)\.[^>]+>)/im.exec(raw);
      if (m.from !== '' || !found) continue;
      copies++;
      const set = dsns.get(found[2]!) ?? new Set<string>();
      set.add(found[1]!);
      dsns.set(found[2]!, set);
    }
    return { dsns, copies };
  };
  await eventually(async () => {
    const { dsns } = await perQueueId();
    return failedMessages.every((f) => dsns.has(f.id));
  }, 60_000, `a DSN for each of ${failedMessages.length} bounced messages`);
  await new Promise((r) => setTimeout(r, 3000)); // a late second DSN would show by now
  const { dsns, copies } = await perQueueId();
  console.log(`${failedMessages.length} bounced messages, ${dsns.size} with a DSN, ${copies} DSN copies at the sink`);
  const twice = [...dsns].filter(([, ids]) => ids.size > 1).map(([id]) => id);
  assert.deepEqual(twice, [], 'messages with two different DSNs');
  await gw.stop();
});
