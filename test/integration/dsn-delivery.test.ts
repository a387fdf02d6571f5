// The DSNs the gateway writes, as they leave: a bounce (a next hop that refuses the
// recipient) and a delay warning (a next hop that keeps deferring it, past
// delivery.retry.delayWarningSec) arrive at the sender's server DKIM-signed with the key
// of the gateway's host name domain, and Python's dkim module (dkimpy) verifies them.
// smtp-sink plays the three servers: one refusing (550), one deferring (450), one
// accepting the DSNs for the sender's domain.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestGateway, eventually, type TestGateway } from '../helpers/gateway.ts';
import { startSmtpSink, type SmtpSink, type SinkMessage } from '../helpers/peers.ts';
import { queueId, sendMessage, simpleMessage } from '../helpers/smtp-probe.ts';
import { findPython } from '../helpers/authvectors.ts';
import { dkimpyVerify } from '../helpers/dkimpy.ts';
import { upsertRelayDomain } from '../../src/db/repos/relay-policy.ts';
import { setSetting } from '../../src/config/settings.ts';

const python = findPython(['dkim']);
const skip = python ? false : 'Python with the dkim module (Debian python3-dkim) is not available';

let gw: TestGateway;
let senders: SmtpSink;
let refusing: SmtpSink;
let deferring: SmtpSink;
/** The gateway's DKIM record, for dkimpy. */
const txt: Record<string, string> = {};

before(async () => {
  if (skip) return;
  [senders, refusing, deferring] = await Promise.all([startSmtpSink(), startSmtpSink({ hardReject: ['RCPT'] }), startSmtpSink({ softReject: ['RCPT'] })]);
  gw = await createTestGateway({ hostname: 'mx.gateway.test' });
  await upsertRelayDomain(gw.db, { domain: 'sender.test', nextHop: `127.0.0.1:${senders.port}` });
  await upsertRelayDomain(gw.db, { domain: 'refusing.test', nextHop: `127.0.0.1:${refusing.port}` });
  await upsertRelayDomain(gw.db, { domain: 'slow.test', nextHop: `127.0.0.1:${deferring.port}` });
  const made = await gw.cli(['dkim', 'generate', 'gateway.test', '--selector', 'dsn1']);
  assert.equal(made.code, 0, made.stderr);
  const dns = await gw.cli(['dkim', 'dns', 'gateway.test', '--json']);
  assert.equal(dns.code, 0, dns.stderr);
  for (const rec of (JSON.parse(dns.stdout) as { publish: Array<{ name: string; value: string }> }).publish) txt[rec.name.toLowerCase()] = rec.value;
  await setSetting(gw.db, 'delivery.retry', { minimalBackoffSec: 1, maximalBackoffSec: 1, queueLifetimeSec: 3600, delayWarningSec: 4 });
  await gw.start();
});

after(async () => {
  await gw?.cleanup();
  await Promise.all([senders?.stop(), refusing?.stop(), deferring?.stop()]);
});

async function dsnFor(queue: string, action: string): Promise<SinkMessage> {
  return eventually(
    async () => (await senders.messages()).find((m) => m.from === '' && m.raw.includes(queue) && m.raw.includes(`Action: ${action}`)),
    60_000,
    `a DSN (Action: ${action}) about ${queue} at the sender's server`,
  );
}

function assertSigned(m: SinkMessage, what: string): void {
  const text = m.raw.toString('latin1');
  assert.match(text, /^DKIM-Signature: [^]*?d=gateway\.test;/m, `${what}: carries our signature`);
  const v = dkimpyVerify(python!, m.raw, txt);
  assert.deepEqual(v.dkim, [{ d: 'gateway.test', ok: true }], `${what}: dkimpy verifies it`);
}

test('a bounce leaves DKIM-signed with the host name domain\'s key; dkimpy verifies it', { skip }, async () => {
  const r = await sendMessage(gw.port, { from: 'alice@sender.test', to: ['nobody@refusing.test'] }, simpleMessage({ from: 'alice@sender.test', to: 'nobody@refusing.test', subject: 'will bounce' }));
  assert.equal(r.code, 250, r.response);
  const id = queueId(r);
  const m = await dsnFor(id, 'failed');
  assert.deepEqual(m.to, ['alice@sender.test'], 'to the sender');
  assertSigned(m, 'the bounce');
  const created = await gw.db.selectFrom('events').innerJoin('messages', 'messages.id', 'events.message_id').select('events.detail').where('messages.parent_id', '=', id).where('events.type', '=', 'created').executeTakeFirstOrThrow();
  assert.match(created.detail ?? '', /"dkim":\{"signed":true,"domain":"gateway\.test"/, `the DSN's trace says it was signed: ${created.detail}`);
});

test('delayWarningSec: a recipient deferred past it gets one "delayed" DSN (signed), and the gateway keeps trying', { skip }, async () => {
  const r = await sendMessage(gw.port, { from: 'bob@sender.test', to: ['carol@slow.test'] }, simpleMessage({ from: 'bob@sender.test', to: 'carol@slow.test', subject: 'will be late' }));
  assert.equal(r.code, 250, r.response);
  const id = queueId(r);
  const m = await dsnFor(id, 'delayed');
  const text = m.raw.toString('latin1');
  assert.match(text, /^Subject: Delayed Mail \(still being retried\)/m, 'a delay warning, not a bounce');
  assert.match(text, /Final-Recipient: rfc822; ?carol@slow\.test/i, 'about the deferred recipient');
  assert.match(text, /Status: 4\.\d+\.\d+/, 'with its temporary status');
  assert.match(text, /Will-Retry-Until: /, 'and until when we keep trying');
  assertSigned(m, 'the delay warning');
  // Several more attempts (one a second), still deferred, and no second warning.
  const attemptsThen = (await gw.db.selectFrom('recipients').select('attempts').where('message_id', '=', id).executeTakeFirstOrThrow()).attempts;
  await eventually(
    async () => (await gw.db.selectFrom('recipients').select('attempts').where('message_id', '=', id).executeTakeFirstOrThrow()).attempts >= attemptsThen + 3,
    30_000,
    'three more attempts after the warning',
  );
  const row = await gw.db.selectFrom('recipients').select(['status', 'delay_warned_at']).where('message_id', '=', id).executeTakeFirstOrThrow();
  assert.equal(row.status, 'deferred', 'still being retried');
  assert.ok(row.delay_warned_at, 'the warning is recorded with the recipient');
  const warnings = (await senders.messages()).filter((x) => x.from === '' && x.raw.includes(id) && x.raw.includes('Action: delayed'));
  assert.equal(warnings.length, 1, 'exactly one delay warning');
});
