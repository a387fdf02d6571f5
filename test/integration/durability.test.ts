// Never lose a message: crash under load, downstream outages, permanent failures.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import PostalMime from 'postal-mime';
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
  // Retry quickly in tests: 1 s, then 2 s at most.
  await setSetting(gw.db, 'delivery.retry', { minimalBackoffSec: 1, maximalBackoffSec: 2, queueLifetimeSec: 3600 });
  return { gw, sink };
}

test('kill -9 under load: every message that got a 250 reaches the sink after restart', async () => {
  const { gw, sink } = await setup();
  await gw.start();
  // Background load from Postfix's smtp-source, while our own client sends uniquely
  // identifiable messages and records exactly which ones were acknowledged.
  const load = runSmtpSource({ host: '127.0.0.1', port: gw.port, messages: 400, sessions: 10, sizeBytes: 10_240, from: 'load@outside.test', to: 'load@example.com' });
  const acked = new Set<string>();
  let sent = 0;
  let stop = false;
  const client = async (n: number) => {
    for (let i = 0; !stop; i++) {
      const tag = `probe-${n}-${i}`;
      sent++;
      const r = await sendMessage(gw.port, { from: 'probe@outside.test', to: ['probe@example.com'] }, simpleMessage({ from: 'probe@outside.test', to: 'probe@example.com', subject: tag, messageId: `<${tag}@outside.test>` }));
      if (r.ok) acked.add(tag);
      else if (!r.ok && stop) break;
    }
  };
  const clients = Array.from({ length: 5 }, (_, n) => client(n));
  await eventually(() => acked.size >= 60, 30_000, '60 acknowledged probes');
  await gw.kill();
  stop = true;
  await Promise.all(clients);
  await load;
  assert.ok(acked.size >= 60);
  await gw.start();
  const missing = await eventually(
    async () => {
      const seen = new Set((await sink.messages()).map((m) => /Subject: (probe-\d+-\d+)/.exec(m.raw.toString('latin1'))?.[1]).filter(Boolean));
      const lost = [...acked].filter((t) => !seen.has(t));
      return lost.length === 0 ? [] : null;
    },
    60_000,
    `all ${acked.size} acknowledged messages at the sink`,
  ).catch((err: Error) => err);
  assert.deepEqual(missing, [], String(missing));
  await assertNoStrandedRecipients(gw.db);
  await gw.stop();
});

test('outage: deferred while the next hop is down, delivered after it comes back', async () => {
  const { gw, sink } = await setup();
  await sink.stop();
  await gw.start();
  const r = await sendMessage(gw.port, { from: 'a@outside.test', to: ['down@example.com'] }, simpleMessage({ from: 'a@outside.test', to: 'down@example.com', subject: 'during outage' }));
  assert.ok(r.ok, r.response);
  const id = /queued as ([0-9A-Z]+)/.exec(r.response)![1]!;
  const deferred = await eventually(
    async () => {
      const row = await gw.db.selectFrom('recipients').selectAll().where('message_id', '=', id).executeTakeFirst();
      return row && row.status === 'deferred' && row.attempts >= 2 ? row : null;
    },
    20_000,
    'two deferred attempts',
  );
  assert.match(deferred.last_reply ?? '', /ECONNREFUSED|connect/i);
  const list = await gw.cli(['queue', 'list']);
  assert.match(list.stdout, new RegExp(`${id}.*down@example\\.com\\s+deferred`));
  await sink.restart();
  await eventually(async () => (await sink.messages()).some((m) => m.raw.includes('during outage')), 20_000, 'delivery after the outage');
  await eventually(async () => (await gw.db.selectFrom('messages').select('state').where('id', '=', id).executeTakeFirst())?.state === 'done', 10_000, 'message done');
  await gw.stop();
});

test('a permanent 5xx produces exactly one DSN to the sender, and none for a null sender', async () => {
  const { gw, sink } = await setup();
  const rejecting = await startSmtpSink({ hardReject: ['RCPT'] });
  cleanups.push(() => rejecting.stop());
  await upsertRelayDomain(gw.db, { domain: 'reject.test', nextHop: `127.0.0.1:${rejecting.port}` });
  await gw.start();
  const r = await sendMessage(gw.port, { from: 'writer@example.com', to: ['nobody@reject.test'] }, simpleMessage({ from: 'writer@example.com', to: 'nobody@reject.test', subject: 'will bounce', messageId: '<bounce-me@example.com>' }));
  assert.ok(r.ok, r.response);
  const id = /queued as ([0-9A-Z]+)/.exec(r.response)![1]!;
  const nullSender = await sendMessage(gw.port, { from: '', to: ['nobody@reject.test'] }, simpleMessage({ from: 'mailer-daemon@elsewhere.test', to: 'nobody@reject.test', subject: 'bounce of a bounce' }));
  assert.ok(nullSender.ok, nullSender.response);

  const dsn = await eventually(async () => (await sink.messages()).find((m) => m.from === '' && m.raw.includes('bounce-me@example.com')), 20_000, 'the DSN');
  assert.deepEqual(dsn.to, ['writer@example.com']);
  const parsed = await PostalMime.parse(dsn.raw);
  assert.match(parsed.subject ?? '', /Undelivered/);
  const raw = dsn.raw.toString('latin1');
  assert.match(raw, /Content-Type: multipart\/report;[\s\S]*report-type="?delivery-status/i);
  assert.match(raw, /Final-Recipient: rfc822; ?nobody@reject\.test/i);
  assert.match(raw, /Action: failed/);
  assert.match(raw, /Status: 5\.\d\.\d/);
  // Wait a few retry periods: no second DSN, and nothing at all for the null sender.
  await new Promise((r) => setTimeout(r, 4000));
  const dsns = (await sink.messages()).filter((m) => m.from === '');
  assert.equal(dsns.length, 1, 'exactly one DSN');
  const row = await gw.db.selectFrom('recipients').selectAll().where('message_id', '=', id).executeTakeFirstOrThrow();
  assert.equal(row.status, 'bounced');
  const trace = await gw.cli(['trace', id]);
  assert.match(trace.stdout, /bounced\s+<nobody@reject\.test>/);
  assert.match(trace.stdout, /dsn\s+dsnId=/);
  await gw.stop();
});

test('a restart with a non-empty spool resumes delivery', async () => {
  const { gw, sink } = await setup();
  await sink.stop();
  // Long backoff: after the restart only the resume can deliver these quickly.
  await setSetting(gw.db, 'delivery.retry', { minimalBackoffSec: 3600, maximalBackoffSec: 3600, queueLifetimeSec: 86400 });
  await gw.start();
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await sendMessage(gw.port, { from: 'a@outside.test', to: ['later@example.com'] }, simpleMessage({ from: 'a@outside.test', to: 'later@example.com', subject: `resume-${i}` }));
    assert.ok(r.ok);
    ids.push(/queued as ([0-9A-Z]+)/.exec(r.response)![1]!);
  }
  await eventually(async () => (await gw.db.selectFrom('recipients').select('status').where('status', '=', 'deferred').execute()).length === 5, 15_000, 'five deferred');
  assert.equal(await gw.stop(), 0, 'graceful stop exits 0');
  await sink.restart();
  await gw.start();
  // Deferred recipients are retried when due; "retry now" makes them due.
  const retry = await gw.cli(['queue', 'retry', '--all']);
  assert.match(retry.stdout, /5 deferred recipient/);
  await eventually(async () => (await sink.messages()).filter((m) => /resume-\d/.test(m.raw.toString())).length === 5, 20_000, 'five resumed deliveries');
  await gw.stop();
});

test('messages never attempted before a crash are delivered right after the restart', async () => {
  const { gw, sink } = await setup();
  await gw.start();
  await sink.stop();
  // Stop delivery from reaching anyone and crash right after acceptance.
  const r = await sendMessage(gw.port, { from: 'a@outside.test', to: ['crash@example.com'] }, simpleMessage({ from: 'a@outside.test', to: 'crash@example.com', subject: 'accepted-then-crash' }));
  assert.ok(r.ok);
  await gw.kill();
  await sink.restart();
  await gw.start();
  await eventually(async () => (await sink.messages()).some((m) => m.raw.includes('accepted-then-crash')), 20_000, 'delivery after restart');
  await assertNoStrandedRecipients(gw.db);
  await gw.stop();
});

test('a message that cannot be delivered within the queue lifetime expires with one DSN', async () => {
  const { gw, sink } = await setup();
  const dead = await startSmtpSink();
  cleanups.push(() => dead.stop());
  await dead.stop();
  await upsertRelayDomain(gw.db, { domain: 'dead.test', nextHop: `127.0.0.1:${dead.port}` });
  await setSetting(gw.db, 'delivery.retry', { minimalBackoffSec: 1, maximalBackoffSec: 1, queueLifetimeSec: 3 });
  await gw.start();
  const r = await sendMessage(gw.port, { from: 'patient@example.com', to: ['x@dead.test'] }, simpleMessage({ from: 'patient@example.com', to: 'x@dead.test', subject: 'will expire', messageId: '<expire-me@example.com>' }));
  const id = /queued as ([0-9A-Z]+)/.exec(r.response)![1]!;
  await eventually(async () => (await gw.db.selectFrom('recipients').select('status').where('message_id', '=', id).executeTakeFirst())?.status === 'expired', 20_000, 'expiry');
  const dsn = await eventually(async () => (await sink.messages()).find((m) => m.from === '' && m.raw.includes('expire-me@example.com')), 15_000, 'the DSN');
  assert.deepEqual(dsn.to, ['patient@example.com']);
  assert.match(dsn.raw.toString(), /Action: failed/);
  assert.match(dsn.raw.toString(), /has expired/);
  assert.match(dsn.raw.toString(), /Status: 5\.4\.7/);
  await new Promise((res) => setTimeout(res, 2500));
  assert.equal((await sink.messages()).filter((m) => m.from === '').length, 1, 'exactly one DSN');
  await gw.stop();
});

