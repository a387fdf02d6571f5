// End to end through SMTP: a message rule holds a message in the quarantine (250 to the
// client, nothing delivered) and "hermes quarantine release" from another process gets
// it delivered by the running gateway; a client listed in the (local test) DNS
// blocklist is scored, then refused at its first RCPT once its zone is a reject zone; the
// recommended rule redirects a user's report to Microsoft to the admin, while the same
// message's other recipient gets it as sent.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createTestGateway, eventually, type TestGateway } from '../helpers/gateway.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/peers.ts';
import { startTestDns, type TestDns } from '../helpers/dns-server.ts';
import { rawSession, sendMessage, simpleMessage } from '../helpers/smtp-probe.ts';
import { addRelayNetwork, upsertRelayDomain } from '../../src/db/repos/relay-policy.ts';
import { setSetting } from '../../src/config/settings.ts';

let gw: TestGateway;
let sink: SmtpSink;
let dns: TestDns;

before(async () => {
  // The test client connects from 127.0.0.1 (reversed, 1.0.0.127), listed from the start:
  // the gateway caches "not listed" answers too.
  dns = await startTestDns({ '1.0.0.127.zen.spamhaus.org': { A: ['127.0.0.4'] } });
  sink = await startSmtpSink();
  gw = await createTestGateway({ dnsServer: dns.server });
  await upsertRelayDomain(gw.db, { domain: 'example.com', nextHop: `127.0.0.1:${sink.port}` });
  // Bayes would need 200 messages of each class before scoring; and no autolearning here.
  await setSetting(gw.db, 'spam.autolearn', false);
  await gw.start();
});

after(async () => {
  await gw?.cleanup();
  await sink?.stop();
  await dns?.close();
});

const eventsOf = async (id: string) => (await gw.db.selectFrom('events').select(['type', 'detail']).where('message_id', '=', id).orderBy('id').execute()).map((e) => e.type);

test('a rule holds the message (250, nothing delivered); released from the CLI, the running gateway delivers it', async () => {
  const add = await gw.cli(['rules', 'add', 'hold-watches', '--when', 'header:Subject contains replica watches', '--action', 'quarantine']);
  assert.equal(add.code, 0, add.stderr);
  const before = await sink.count();
  const msg = simpleMessage({ from: 'seller@outside.test', to: 'bob@example.com', subject: 'Replica watches for you', messageId: '<watches-1@outside.test>' });
  const r = await sendMessage(gw.port, { from: 'seller@outside.test', to: ['bob@example.com'] }, msg);
  assert.equal(r.code, 250, r.response);

  const list = await eventually(async () => {
    const l = await gw.cli(['quarantine', 'list', '--recipient', 'bob@example.com', '--category', 'rule']);
    return /Replica watches/.test(l.stdout) ? l.stdout : null;
  }, 15_000, 'the held message in the quarantine list');
  const id = /^([0-9A-Z]{17})\s/m.exec(list)![1]!;
  const show = await gw.cli(['quarantine', 'show', id]);
  assert.match(show.stdout, /Reason\s+.*message rule hold-watches/);
  assert.equal(await sink.count(), before, 'nothing was delivered');

  const rel = await gw.cli(['quarantine', 'release', id]);
  assert.equal(rel.code, 0, rel.stderr);
  await sink.waitForCount(before + 1, 30_000);
  const got = (await sink.messages()).find((m) => m.raw.includes('<watches-1@outside.test>'));
  assert.ok(got, 'released message delivered');
  assert.deepEqual(got.to, ['bob@example.com']);
  assert.match(got.raw.toString(), /Subject: [^\r\n]*Replica watches for you/);
  // One trace: the session's hold, then the release.
  const original = /Queue id\s+([0-9A-Z]{17})/.exec(show.stdout)![1]!;
  const types = await eventually(async () => {
    const t = await eventsOf(original);
    return t.includes('quarantine-released') ? t : null;
  }, 15_000, 'trace of the held message');
  assert.equal(types.filter((t) => t === 'quarantined').length, 1, types.join(','));
  assert.equal((await gw.cli(['rules', 'remove', 'hold-watches'])).code, 0);
});

test('a client listed in the blocklist is scored (RCVD_IN_XBL in X-Spam-Status); with its zone in dnsbl.rejectZones it is refused with 554 5.7.1', async () => {
  const before = await sink.count();
  const msg = simpleMessage({ from: 'someone@outside.test', to: 'bob@example.com', subject: 'Hello from a listed host', messageId: '<listed-1@outside.test>' });
  const r = await sendMessage(gw.port, { from: 'someone@outside.test', to: ['bob@example.com'] }, msg);
  assert.equal(r.code, 250, r.response);
  await sink.waitForCount(before + 1, 30_000);
  const got = (await sink.messages()).find((m) => m.raw.includes('<listed-1@outside.test>'));
  assert.ok(got);
  assert.match(got.raw.toString(), /X-Spam-Status: [^\r\n]*(\r\n[ \t][^\r\n]*)*RCVD_IN_XBL/);

  assert.equal((await gw.cli(['dnsbl', 'reject', 'zen.spamhaus.org'])).code, 0);
  // Refused at its first RCPT, so it never gets to send the message; every later RCPT of the session too.
  const talk = await rawSession(gw.port, [
    'EHLO listed.outside.test\r\n',
    'MAIL FROM:<someone@outside.test>\r\n',
    'RCPT TO:<bob@example.com>\r\n',
    'RCPT TO:<carol@example.com>\r\n',
    'DATA\r\n',
    'QUIT\r\n',
  ], 1500);
  const refusals = talk.match(/^554 5\.7\.1 Service unavailable; client host \[127\.0\.0\.1\] blocked using zen\.spamhaus\.org\r$/gm) ?? [];
  assert.equal(refusals.length, 2, talk);
  assert.doesNotMatch(talk, /^354/m, 'no DATA accepted');
  const refused = await sendMessage(gw.port, { from: 'someone@outside.test', to: ['bob@example.com'] }, msg.replace('listed-1', 'listed-2'));
  assert.equal(refused.code, 554, refused.response);
  assert.match(refused.response, /5\.7\.1 Service unavailable; client host \[127\.0\.0\.1\] blocked using zen\.spamhaus\.org/);
  assert.equal(await gw.db.selectFrom('messages').select('id').where('message_id', '=', '<listed-2@outside.test>').executeTakeFirst(), undefined, 'the message was never received');
  assert.equal(await sink.count(), before + 1, 'nothing more delivered');

  assert.equal((await gw.cli(['dnsbl', 'reject', 'none'])).code, 0);
});

test('the recommended rule redirects a report to Microsoft to the admin; the other recipient gets the message as sent', async () => {
  await addRelayNetwork(gw.db, '127.0.0.1/32', 'our mail server');
  const on = await gw.cli(['rules', 'enable', 'redirect-microsoft-junk-reports', '--target', 'admin@example.com']);
  assert.equal(on.code, 0, on.stderr);
  const before = await sink.count();
  const msg = simpleMessage({ from: 'user@example.com', to: 'junk@office365.microsoft.com', subject: 'Report: junk', messageId: '<report-1@example.com>' });
  const r = await sendMessage(gw.port, { from: 'user@example.com', to: ['junk@office365.microsoft.com', 'carol@example.com'] }, msg);
  assert.equal(r.code, 250, r.response);
  await sink.waitForCount(before + 2, 30_000);
  const copies = (await sink.messages()).filter((m) => m.raw.includes('<report-1@example.com>'));
  assert.deepEqual(copies.flatMap((m) => m.to).sort(), ['admin@example.com', 'carol@example.com']);
  const queued = await gw.db.selectFrom('recipients').select('address').where('address', 'like', '%microsoft.com').execute();
  assert.deepEqual(queued, [], 'nothing was queued for Microsoft');
});
