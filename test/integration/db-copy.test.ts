// Moving a SQLite install to PostgreSQL (issue 13): `hermes db copy --to postgres://...`
// on a stopped gateway with mail queued (the next hop was down), a held message and a
// relay domain; then storage.database points at PostgreSQL and the gateway starts on it.
// The queue is delivered from the copied message bytes, the held message is released
// from the copied quarantine, and the configuration came along. A second copy into the
// now non-empty database is refused and changes nothing.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTestGateway, eventually, type TestGateway } from '../helpers/gateway.ts';
import { startSmtpSink } from '../helpers/peers.ts';
import { startPostgres } from '../helpers/postgres.ts';
import { sendMessage, simpleMessage } from '../helpers/smtp-probe.ts';
import { upsertRelayDomain } from '../../src/db/repos/relay-policy.ts';
import { setSetting } from '../../src/config/settings.ts';
import { loadConfig } from '../../src/config/bootstrap.ts';
import { openQuarantine } from '../../src/quarantine/open-quarantine.ts';
import { newQueueId } from '../../src/spool/queue-id.ts';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

const subjectsAt = async (sink: { messages(): Promise<Array<{ raw: Buffer }>> }) =>
  new Set((await sink.messages()).map((m) => /^Subject: (.*)$/m.exec(m.raw.toString('latin1'))?.[1]?.trim()));

test('db copy: a SQLite install with queued and held mail moves to PostgreSQL and goes on there', async () => {
  const pg = await startPostgres();
  cleanups.push(() => pg.stop());
  const target = await pg.createDatabase('moved');
  // The sink is down while the SQLite gateway takes mail: everything stays queued.
  const sink = await startSmtpSink();
  cleanups.push(() => sink.stop());
  await sink.stop();
  const gw: TestGateway = await createTestGateway();
  cleanups.push(() => gw.cleanup());
  assert.match(loadConfig(gw.dataDir).storage.database, /^(sqlite:)?\//, 'the gateway starts on SQLite');
  await upsertRelayDomain(gw.db, { domain: 'example.com', nextHop: `127.0.0.1:${sink.port}` });
  await setSetting(gw.db, 'delivery.retry', { minimalBackoffSec: 1, maximalBackoffSec: 2, queueLifetimeSec: 86400 });
  const q = openQuarantine({ db: gw.db, config: loadConfig(gw.dataDir) });
  await q.store.hold({
    messageId: newQueueId(),
    receivedAt: new Date(),
    mailFrom: 'seller@outside.test',
    recipients: ['bob@example.com'],
    category: 'spam',
    score: 9.1,
    symbols: [],
    reason: 'spam score 9.1 >= 5 (policy default)',
    message: [Buffer.from('From: seller@outside.test\r\nTo: bob@example.com\r\nSubject: held before the move\r\n\r\nCheap watches.\r\n')],
  });
  await q.close();
  await gw.start();
  const acked: string[] = [];
  for (let i = 0; i < 15; i++) {
    const subject = `queued-before-move-${i}`;
    const r = await sendMessage(gw.port, { from: 'ann@outside.test', to: ['bob@example.com'] }, simpleMessage({ from: 'ann@outside.test', to: 'bob@example.com', subject }));
    if (r.ok) acked.push(subject);
  }
  assert.equal(acked.length, 15, 'the SQLite gateway takes mail');
  assert.equal(await gw.stop(), 0, 'the gateway stops cleanly before the copy');

  const copy = await gw.cli(['db', 'copy', '--to', target]);
  assert.equal(copy.code, 0, `db copy: ${copy.stderr}\n${copy.stdout}`);
  assert.match(copy.stdout, /^done: \d+ rows in \d+ tables, 15 queued messages' bytes/m, `progress ends with the totals: ${copy.stdout}`);
  assert.doesNotMatch(copy.stdout, /postgres:\/\/[^@\s]*:[^@\s]*@/, 'no password in the output');

  const again = await gw.cli(['db', 'copy', '--to', target]);
  assert.notEqual(again.code, 0, 'a second copy into a database with rows is refused');
  assert.match(again.stderr, /not empty/, `the refusal says why: ${again.stderr}`);

  // The gateway now runs on PostgreSQL, messages' bytes from the database.
  const file = join(gw.dataDir, 'hermes.json');
  const cfg = JSON.parse(readFileSync(file, 'utf8')) as { storage: Record<string, unknown> };
  writeFileSync(file, JSON.stringify({ ...cfg, storage: { ...cfg.storage, database: target } }, null, 2));
  await sink.restart();
  await gw.start();
  const retry = await gw.cli(['queue', 'retry', '--all']);
  assert.equal(retry.code, 0, retry.stderr);
  let missing = acked;
  await eventually(
    async () => {
      const seen = await subjectsAt(sink);
      missing = acked.filter((s) => !seen.has(s));
      return missing.length === 0;
    },
    120_000,
    'the copied queue delivered from PostgreSQL',
  ).catch(() => {});
  assert.deepEqual(missing, [], `every queued message delivered after the move (of ${acked.length})`);

  const domains = await gw.cli(['domain', 'list']);
  assert.match(domains.stdout, /example\.com/, `the relay domain came along: ${domains.stdout}`);
  const list = await gw.cli(['quarantine', 'list']);
  assert.equal(list.code, 0, list.stderr);
  const heldId = /^(\S{8,})\s/m.exec(list.stdout.split('\n').slice(1).join('\n'))?.[1];
  assert.ok(heldId, `the held message is in the quarantine on PostgreSQL: ${list.stdout}`);
  const rel = await gw.cli(['quarantine', 'release', heldId, '--recipient', 'bob@example.com']);
  assert.equal(rel.code, 0, rel.stderr);
  await eventually(async () => (await subjectsAt(sink)).has('held before the move'), 60_000, 'the released message at the sink');
});
