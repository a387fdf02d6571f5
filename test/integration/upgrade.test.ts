// Upgrade: today's gateway starts on a data directory an older release wrote (the
// committed fixture, schema version 10, see its README): the pending migrations run once,
// the mail that release had queued is delivered, the message it held is released, its DKIM
// key still signs. A database newer than this release is refused, not touched.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestGateway, eventually, REPO_ROOT, type TestGateway } from '../helpers/gateway.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/peers.ts';
import { sendMessage, simpleMessage } from '../helpers/smtp-probe.ts';
import { findPython } from '../helpers/authvectors.ts';
import { dkimpyVerify } from '../helpers/dkimpy.ts';
import { upsertRelayDomain } from '../../src/db/repos/relay-policy.ts';
import { LATEST_SCHEMA_VERSION, schemaVersion } from '../../src/db/migrate.ts';
import { listKeys } from '../../src/services/dkim-service.ts';
import { cliActor } from '../../src/services/actor.ts';

const FIXTURE = join(REPO_ROOT, 'test/fixtures/upgrade-schema-10');
const python = findPython(['dkim']);
let work: string;
let sink: SmtpSink;
let gw: TestGateway;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'hermes-upgrade-'));
  const dataDir = join(work, 'data');
  cpSync(FIXTURE, dataDir, { recursive: true });
  chmodSync(join(dataDir, 'keys'), 0o700); // git keeps no modes; an install has these
  chmodSync(join(dataDir, 'keys/master.key'), 0o600);
  gw = await createTestGateway({ dataDir, hostname: 'mx.fixture.test' });
  // Queued recipients keep the route chosen when they were queued (the old release's
  // next hop, down while the fixture was made): the sink listens there.
  const route = (await gw.db.selectFrom('recipients').select('route').where('status', '=', 'deferred').executeTakeFirstOrThrow()).route;
  sink = await startSmtpSink({ port: Number(/:(\d+)$/.exec(route)![1]) });
});

after(async () => {
  await gw?.cleanup();
  await sink?.stop();
  rmSync(work, { recursive: true, force: true });
});

test('a data directory from schema 10: migrated, queued mail delivered, held mail released, the old DKIM key signs', async () => {
  assert.equal(await schemaVersion(gw.db), LATEST_SCHEMA_VERSION, 'the pending migrations ran');
  const again = await gw.cli(['status']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, new RegExp(`schema version\\s+${LATEST_SCHEMA_VERSION} \\(latest ${LATEST_SCHEMA_VERSION}\\)`));

  // The fixture's mail is old by now: keep it from expiring or being purged before it is delivered.
  for (const [k, v] of [['delivery.retry', '{"minimalBackoffSec":300,"maximalBackoffSec":4000,"queueLifetimeSec":315360000}'], ['quarantine.retentionDays', '3650'], ['retention.traceDays', '3650']] as const) {
    const r = await gw.cli(['settings', 'set', k, v]);
    assert.equal(r.code, 0, r.stderr);
  }
  await upsertRelayDomain(gw.db, { domain: 'example.com', nextHop: `127.0.0.1:${sink.port}` });
  await gw.start();
  const retry = await gw.cli(['queue', 'retry', '--all']);
  assert.equal(retry.code, 0, retry.stderr);
  const expected = [0, 1, 2, 3, 4].map((i) => `queued by the old release ${i}`);
  let missing: string[] = expected;
  await eventually(async () => {
    const subjects = new Set((await sink.messages()).map((m) => /^Subject: (.*)$/m.exec(m.raw.toString('latin1'))?.[1]?.trim()));
    missing = expected.filter((s) => !subjects.has(s));
    return missing.length ? null : true;
  }, 120_000, 'the old queue at the sink').catch(() => {});
  assert.deepEqual(missing, [], 'every message the old release queued is delivered');

  const list = await gw.cli(['quarantine', 'list']);
  assert.equal(list.code, 0, list.stderr);
  const heldId = /^(\S{8,})\s/m.exec(list.stdout.split('\n').slice(1).join('\n'))?.[1];
  assert.ok(heldId, `the old release's held message is listed: ${list.stdout}`);
  const rel = await gw.cli(['quarantine', 'release', heldId, '--recipient', 'bob@example.com']);
  assert.equal(rel.code, 0, rel.stderr);
  await eventually(async () => (await sink.messages()).find((m) => m.raw.includes('Subject: held by the old release')) ?? null, 60_000, 'the released message at the sink');

  assert.ok(python, 'Python with the dkim module (Debian python3-dkim) is installed by scripts/install-peers.sh');
  const key = (await listKeys(gw.db, cliActor(), 'example.org')).find((k) => k.selector === 'old1');
  assert.ok(key, 'the old DKIM key is listed');
  const out = await sendMessage(gw.port, { from: 'ann@example.org', to: ['bob@example.com'] }, simpleMessage({ from: 'ann@example.org', to: 'bob@example.com', subject: 'signed after the upgrade' }), { localAddress: '127.0.0.2' });
  assert.ok(out.ok, JSON.stringify(out));
  const signed = await eventually(async () => (await sink.messages()).find((m) => m.raw.includes('Subject: signed after the upgrade')) ?? null, 60_000, 'the outbound message at the sink');
  const verdict = dkimpyVerify(python!, signed.raw, { [`old1._domainkey.example.org`]: key.dnsValue });
  assert.deepEqual(verdict.dkim.filter((d) => d.d === 'example.org').map((d) => d.ok), [true], JSON.stringify(verdict));
});

test('a database newer than this release is refused with the reason, and left as it was', async () => {
  await gw.stop();
  await gw.db.insertInto('migrations').values({ version: LATEST_SCHEMA_VERSION + 100, name: 'from the future', applied_at: Date.now() }).execute();
  const r = await gw.cli(['status']);
  assert.notEqual(r.code, 0, 'refused');
  assert.match(r.stderr, new RegExp(`schema version ${LATEST_SCHEMA_VERSION + 100}, newer than this release knows \\(latest ${LATEST_SCHEMA_VERSION}`));
  await assert.rejects(gw.start(), /newer than this release knows|exited|gateway output/, 'start refuses it too');
  assert.equal(await schemaVersion(gw.db), LATEST_SCHEMA_VERSION + 100, 'untouched');
});
