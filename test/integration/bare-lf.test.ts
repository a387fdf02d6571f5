// Bare LF in DATA (smtp.bareLf): 'normalize' (default) takes LF-only lines as CRLF lines,
// as Postfix 3.9 does; DATA still ends only at CRLF.CRLF, so the smuggling forms
// <LF>.<LF>, <CRLF>.<LF> and <LF>.<CRLF> stay content and never end the message early.
// A raw socket client sends what no well-behaved client would; smtp-sink is the next hop.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/peers.ts';
import { rawSession } from '../helpers/smtp-probe.ts';
import { arrivedAtSink } from '../helpers/message-trace.ts';
import { upsertRelayDomain } from '../../src/db/repos/relay-policy.ts';
import { setSetting } from '../../src/config/settings.ts';

let gw: TestGateway;
let sink: SmtpSink;

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

const ENVELOPE = ['EHLO client.test\r\n', 'MAIL FROM:<a@outside.test>\r\n', 'RCPT TO:<bob@corp.test>\r\n', 'DATA\r\n'];
const queued = (t: string) => t.match(/^250 2\.6\.0 Ok: queued as/gm)?.length ?? 0;

test('normalize (default): a message with bare-LF lines is accepted and leaves with CRLF line ends', async () => {
  const t = await rawSession(gw.port, [...ENVELOPE, 'Subject: lf-only\nX-Marker: bare-lf-plain\n\nline one\nline two\r\n.\r\n', 'QUIT\r\n']);
  assert.equal(queued(t), 1, t);
  const m = await arrivedAtSink(sink, 'bare-lf-plain');
  const text = m.raw.toString('latin1');
  assert.match(text, /X-Marker: bare-lf-plain\r\n\r\nline one\r\nline two\r\n/);
  assert.doesNotMatch(text, /[^\r]\n/, 'no bare LF left');
});

for (const [name, end] of [['<LF>.<LF>', '\n.\n'], ['<CRLF>.<LF>', '\r\n.\n'], ['<LF>.<CRLF>', '\n.\r\n']] as const) {
  test(`normalize: ${name} never ends DATA; the smuggled commands stay inside the one message`, async () => {
    const marker = `smuggle-${Buffer.from(name).toString('hex')}`;
    const before = await sink.count();
    const data = `Subject: ${marker}\r\n\r\nfirst part${end}MAIL FROM:<evil@outside.test>\r\nRCPT TO:<victim@corp.test>\r\nDATA\r\nSubject: smuggled-${marker}\r\n\r\nsecond\r\n.\r\n`;
    const t = await rawSession(gw.port, [...ENVELOPE, data, 'QUIT\r\n']);
    assert.equal(queued(t), 1, `exactly one message accepted:\n${t}`);
    assert.equal(t.match(/^354 /gm)?.length, 1, 'the smuggled DATA never reached the command parser');
    const m = await arrivedAtSink(sink, marker);
    assert.deepEqual(m.to, ['bob@corp.test']);
    assert.ok(m.raw.toString('latin1').includes('MAIL FROM:<evil@outside.test>'), 'the smuggled text is content');
    await new Promise((r) => setTimeout(r, 1000));
    const msgs = await sink.messages();
    assert.equal(await sink.count(), before + 1, 'no second message');
    assert.ok(!msgs.some((x) => x.to.includes('victim@corp.test')));
  });
}

test('normalize still refuses a bare CR (<CR>.<CR>): 550 5.5.2', async () => {
  const t = await rawSession(gw.port, [...ENVELOPE, 'Subject: cr\n\nx\r.\rMAIL FROM:<e@x>\r\n.\r\n', 'QUIT\r\n']);
  assert.match(t, /550 5\.5\.2 Error: bare <CR> received/);
});

test('smtp.bareLf=reject: bare LF is refused with 550 5.5.2', async () => {
  await setSetting(gw.db, 'smtp.bareLf', 'reject');
  try {
    const t = await rawSession(gw.port, [...ENVELOPE, 'Subject: lf\n\nbody\r\n.\r\n', 'QUIT\r\n']);
    assert.match(t, /550 5\.5\.2 Error: bare <LF> received/);
    assert.equal(queued(t), 0);
  } finally {
    await setSetting(gw.db, 'smtp.bareLf', 'normalize');
  }
});
