// The gateway as a relay, against real peers: swaks and nodemailer as clients, Postfix's
// smtp-sink as the downstream server.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createTestGateway, eventually, type TestGateway } from '../helpers/gateway.ts';
import { runSwaks, startSmtpSink, type SmtpSink } from '../helpers/peers.ts';
import { rawSession, sendMessage, simpleMessage } from '../helpers/smtp-probe.ts';
import { addRelayNetwork, addRelayRecipient, removeRelayNetwork, upsertRelayDomain } from '../../src/db/repos/relay-policy.ts';
import { setSetting } from '../../src/config/settings.ts';

let gw: TestGateway;
let sink: SmtpSink;

before(async () => {
  sink = await startSmtpSink();
  gw = await createTestGateway();
  await upsertRelayDomain(gw.db, { domain: 'example.com', nextHop: `127.0.0.1:${sink.port}` });
  await upsertRelayDomain(gw.db, { domain: 'strict.example', nextHop: `127.0.0.1:${sink.port}`, recipientMode: 'specified' });
  await addRelayRecipient(gw.db, 'alice@strict.example');
  await gw.start();
});

after(async () => {
  await gw?.cleanup();
  await sink?.stop();
});

test('inbound: swaks to a relay domain arrives at the next hop intact, with our Received header on top', async () => {
  const body = simpleMessage({ from: 'sender@outside.test', to: 'bob@example.com', subject: 'inbound intact', messageId: '<intact-1@outside.test>' });
  const before = await sink.count();
  const r = await runSwaks(['--server', `127.0.0.1:${gw.port}`, '--from', 'sender@outside.test', '--to', 'bob@example.com', '--data', '-', '--hide-informational'], { stdin: body });
  assert.equal(r.exitCode, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /250 2\.6\.0 Ok: queued as [0-9A-Z]{17}/);
  await sink.waitForCount(before + 1, 15_000);
  const msgs = await sink.messages();
  const got = msgs.find((m) => m.raw.includes('<intact-1@outside.test>'));
  assert.ok(got, 'message reached the sink');
  assert.equal(got.from, 'sender@outside.test');
  assert.deepEqual(got.to, ['bob@example.com']);
  const raw = got.raw.toString('latin1');
  assert.match(raw, /^Received: from client\.test|^Received: from [^\r\n]+\[127\.0\.0\.1\]/);
  assert.match(raw.split('\r\n\r\n')[0]!, /by mx\.gateway\.test \(Hermes SEG\) with ESMTP id [0-9A-Z]{17}/);
  // Everything below our Received header is byte for byte what swaks sent (swaks ends
  // the DATA with one more CRLF of its own, hence the trim at the very end).
  const ours = raw.indexOf('\r\nFrom: ');
  assert.equal(raw.slice(ours + 2).replace(/(\r\n)+$/, ''), body.replace(/(\r\n)+$/, ''));
});

test('EHLO advertises SIZE, PIPELINING, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES and STARTTLS', async () => {
  const t = await rawSession(gw.port, ['EHLO client.test\r\n', 'QUIT\r\n']);
  for (const ext of ['SIZE 104857600', 'PIPELINING', '8BITMIME', 'SMTPUTF8', 'ENHANCEDSTATUSCODES', 'STARTTLS']) {
    assert.match(t, new RegExp(`250[- ]${ext}`), `missing ${ext} in\n${t}`);
  }
});

test('STARTTLS with the install certificate works with swaks', async () => {
  const r = await runSwaks(['--server', `127.0.0.1:${gw.port}`, '--from', 'a@outside.test', '--to', 'tls@example.com', '--tls', '--hide-informational']);
  assert.equal(r.exitCode, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /250 2\.6\.0 Ok: queued as/);
});

test('relay rules: unknown domain 554, unknown recipient on a SPECIFIED domain 550, known one accepted', async () => {
  const unknown = await sendMessage(gw.port, { from: 'x@outside.test', to: ['someone@elsewhere.test'] }, simpleMessage({ from: 'x@outside.test', to: 'someone@elsewhere.test', subject: 'relay?' }));
  assert.equal(unknown.ok, false);
  assert.equal(unknown.code, 554);
  assert.match(unknown.response, /554 5\.7\.1 .*Relay access denied/);

  const nouser = await sendMessage(gw.port, { from: 'x@outside.test', to: ['mallory@strict.example'] }, simpleMessage({ from: 'x@outside.test', to: 'mallory@strict.example', subject: 'who?' }));
  assert.equal(nouser.code, 550);
  assert.match(nouser.response, /550 5\.1\.1 .*User unknown/);

  const known = await sendMessage(gw.port, { from: 'x@outside.test', to: ['Alice@strict.example'] }, simpleMessage({ from: 'x@outside.test', to: 'alice@strict.example', subject: 'hi alice' }));
  assert.equal(known.ok, true, known.response);
});

test('relay networks: a client inside may send to an external domain, outside may not; changes apply without restart', async () => {
  await setSetting(gw.db, 'delivery.smarthost', `127.0.0.1:${sink.port}`);
  const msg = simpleMessage({ from: 'staff@example.com', to: 'partner@external.test', subject: 'outbound via relay network' });
  const denied = await sendMessage(gw.port, { from: 'staff@example.com', to: ['partner@external.test'] }, msg);
  assert.equal(denied.code, 554, 'loopback is not yet a relay network');

  await addRelayNetwork(gw.db, '127.0.0.0/8', 'test clients');
  const allowed = await sendMessage(gw.port, { from: 'staff@example.com', to: ['partner@external.test'] }, msg);
  assert.equal(allowed.ok, true, allowed.response);
  await eventually(async () => (await sink.messages()).some((m) => m.to.includes('partner@external.test')), 15_000, 'outbound message at the smarthost');

  await removeRelayNetwork(gw.db, '127.0.0.0/8');
  const deniedAgain = await sendMessage(gw.port, { from: 'staff@example.com', to: ['partner@external.test'] }, msg);
  assert.equal(deniedAgain.code, 554);
});

test('smuggling with smtp.bareLf=reject: <LF>.<LF> followed by a second MAIL FROM is rejected and yields no second message', async () => {
  await setSetting(gw.db, 'smtp.bareLf', 'reject');
  after(() => setSetting(gw.db, 'smtp.bareLf', 'normalize'));
  const before = await sink.count();
  const smuggled =
    'From: a@outside.test\r\nTo: bob@example.com\r\nSubject: smuggle\r\n\r\nfirst part\n.\nMAIL FROM:<evil@outside.test>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nSubject: smuggled\r\n\r\nsecond\r\n.\r\n';
  const t = await rawSession(gw.port, ['EHLO client.test\r\n', 'MAIL FROM:<a@outside.test>\r\n', 'RCPT TO:<bob@example.com>\r\n', 'DATA\r\n', smuggled, 'QUIT\r\n']);
  assert.match(t, /550 5\.5\.2 Error: bare <LF> received/);
  assert.doesNotMatch(t, /queued as/);
  // Give a wrongly accepted message time to show up, then check none did.
  await new Promise((r) => setTimeout(r, 1500));
  const msgs = await sink.messages();
  assert.equal(await sink.count(), before);
  assert.ok(!msgs.some((m) => m.raw.toString().includes('smuggle')));
  const rows = await gw.db.selectFrom('messages').select(['id', 'state']).where('state', '=', 'rejected').execute();
  assert.ok(rows.length >= 1, 'the rejected message has a trace record');
});

test('<CR>.<CR> and bare CR are rejected too', async () => {
  const t = await rawSession(gw.port, ['EHLO c\r\n', 'MAIL FROM:<a@outside.test>\r\n', 'RCPT TO:<bob@example.com>\r\n', 'DATA\r\n', 'Subject: cr\r\n\r\nx\r.\rMAIL FROM:<e@x>\r\n.\r\n', 'QUIT\r\n']);
  assert.match(t, /550 5\.5\.2 Error: bare <CR> received/);
});

test('an oversized message gets 552 and is not delivered', async () => {
  await setSetting(gw.db, 'smtp.maxMessageSize', 2000);
  try {
    const big = simpleMessage({ from: 'a@outside.test', to: 'bob@example.com', subject: 'too big', body: 'x'.repeat(5000) });
    const r = await sendMessage(gw.port, { from: 'a@outside.test', to: ['bob@example.com'] }, big);
    assert.equal(r.code, 552, r.response);
  } finally {
    await setSetting(gw.db, 'smtp.maxMessageSize', 100 * 1024 * 1024);
  }
});

test('hermes trace shows envelope, recipient status and timeline of a delivered message', async () => {
  const r = await sendMessage(gw.port, { from: 'tracer@outside.test', to: ['carol@example.com'] }, simpleMessage({ from: 'tracer@outside.test', to: 'carol@example.com', subject: 'Trace me =?utf-8?q?caf=C3=A9?=' }));
  assert.ok(r.ok);
  const id = /queued as ([0-9A-Z]+)/.exec(r.response)![1]!;
  await eventually(async () => (await gw.db.selectFrom('recipients').select('status').where('message_id', '=', id).executeTakeFirst())?.status === 'delivered', 15_000, 'delivery');
  const out = await gw.cli(['trace', id]);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, new RegExp(`Queue id\\s+${id}`));
  assert.match(out.stdout, /From\s+tracer@outside\.test/);
  assert.match(out.stdout, /Subject\s+Trace me café/);
  assert.match(out.stdout, /carol@example\.com\s+delivered/);
  assert.match(out.stdout, /received .*client=127\.0\.0\.1/);
  assert.match(out.stdout, /delivered\s+<carol@example\.com> reply=250/);
  const byAddr = await gw.cli(['trace', 'carol@example.com']);
  assert.match(byAddr.stdout, new RegExp(id));
});
