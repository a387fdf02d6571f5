// Mail that can never be parsed gets a deterministic answer: a "malformed" finding the
// policy acts on (held in the quarantine by default, or 550 5.6.0), never the 451 that
// makes the sender retry for days. 451 stays for failures that pass (a scanner that is down).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestGateway, eventually, type TestGateway } from '../helpers/gateway.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/peers.ts';
import { queueId, sendMessage } from '../helpers/smtp-probe.ts';
import { arrivedAtSink, messageEvents } from '../helpers/message-trace.ts';
import { upsertRelayDomain } from '../../src/db/repos/relay-policy.ts';
import { setSetting } from '../../src/config/settings.ts';

let gw: TestGateway;
let sink: SmtpSink;

const envelope = { from: 'sender@outside.test', to: ['user@corp.test'] };

function withAttachedMessage(inner: string): string {
  return [
    'From: <sender@outside.test>', 'To: <user@corp.test>', 'Subject: forwarded', 'Date: Mon, 1 Jan 2024 00:00:00 +0000',
    'Message-ID: <fwd@outside.test>', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="B"', '',
    '--B', 'Content-Type: text/plain', '', 'see attached', '--B', 'Content-Type: message/rfc822', '', inner, '--B--', '',
  ].join('\r\n');
}

const head = 'From: <sender@outside.test>\r\nTo: <user@corp.test>\r\nSubject: odd\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMIME-Version: 1.0\r\n';

/** Messages of issue 12 that postal-mime refuses. */
const MALFORMED: Record<string, string> = {
  'invalid Date in an attached message': withAttachedMessage('From: x@inner.test\r\nDate: not a date at all\r\nSubject: in\r\n\r\nbody'),
  'a header block over 2 MiB': head + Array.from({ length: 30_000 }, (_, i) => `X-Filler-${i}: ${'a'.repeat(70)}\r\n`).join('') + '\r\nbody\r\n',
  'MIME nested deeper than 256': (() => {
    let part = 'Content-Type: text/plain\r\n\r\nleaf\r\n';
    for (let i = 300; i > 0; i--) part = `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n${part}\r\n--b${i}--\r\n`;
    return head + part;
  })(),
};

before(async () => {
  sink = await startSmtpSink();
  gw = await createTestGateway();
  await upsertRelayDomain(gw.db, { domain: 'corp.test', nextHop: `127.0.0.1:${sink.port}` });
  await gw.start();
});

after(async () => {
  await gw?.cleanup();
  await sink?.stop();
});

test('unparseable messages are held in the quarantine (category malformed) with a trace entry, not answered 451', async () => {
  for (const [what, raw] of Object.entries(MALFORMED)) {
    const r = await sendMessage(gw.port, envelope, raw);
    assert.equal(r.code, 250, `${what}: ${r.response}`);
    const id = queueId(r);
    const events = await messageEvents(gw, id);
    const malformed = events.find((e) => e.type === 'malformed');
    assert.ok(malformed, `${what}: no malformed event in ${events.map((e) => e.type).join(', ')}`);
    assert.equal(malformed.detail.action, 'quarantine');
    assert.ok(events.some((e) => e.type === 'quarantined' && e.detail.category === 'malformed'), `${what}: not held`);
  }
  const held = await gw.db.selectFrom('quarantine').select('category').execute();
  assert.equal(held.filter((h) => h.category === 'malformed').length, Object.keys(MALFORMED).length);
});

test('an attached message with "From: Recipients:;" (an empty group) parses: it is delivered, not held or deferred', async () => {
  const raw = withAttachedMessage('From: Recipients:;\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nSubject: in\r\n\r\nbody').replace('<fwd@outside.test>', '<group-marker@outside.test>');
  const r = await sendMessage(gw.port, envelope, raw);
  assert.equal(r.code, 250, r.response);
  const events = await messageEvents(gw, queueId(r));
  assert.ok(!events.some((e) => e.type === 'malformed' || e.type === 'quarantined'), events.map((e) => e.type).join(', '));
  await arrivedAtSink(sink, 'group-marker@outside.test');
});

test('with filter.malformedAction=reject they get 550 5.6.0, traced', async () => {
  await setSetting(gw.db, 'filter.malformedAction', 'reject');
  try {
    for (const [what, raw] of Object.entries(MALFORMED)) {
      const r = await sendMessage(gw.port, envelope, raw);
      assert.equal(r.code, 550, `${what}: ${r.response}`);
      assert.match(r.response, /5\.6\.0/, what);
    }
    // A refused message's trace is written after the reply.
    await eventually(async () => {
      const rows = await gw.db.selectFrom('events').select('detail').where('type', '=', 'malformed').execute();
      return rows.filter((e) => JSON.parse(e.detail ?? '{}').action === 'reject').length >= Object.keys(MALFORMED).length || null;
    }, 10_000, 'a malformed trace entry (action reject) for each refused message');
  } finally {
    await setSetting(gw.db, 'filter.malformedAction', 'quarantine');
  }
});
