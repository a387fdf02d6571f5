// The delivery client passes on what the message needs: BODY=8BITMIME for 8-bit bytes
// (RFC 6152), SMTPUTF8 for a non-ASCII address (RFC 6531), and bounces the recipients
// when the next hop lacks the extension (5.6.7 / 5.6.3). The peers are smtp-server
// instances that offer or hide those extensions, recording what MAIL FROM carried.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import pino from 'pino';
import { SmtpClientPool, opportunisticPlan } from '../../src/delivery/smtp-client.ts';

interface Peer { port: number; mails: Array<{ args: Record<string, unknown>; data: Buffer }>; close(): Promise<void> }

async function peer(o: { hide8bit?: boolean; hideUtf8?: boolean }): Promise<Peer> {
  const mails: Peer['mails'] = [];
  const server = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS', 'AUTH'], logger: false,
    hide8BITMIME: o.hide8bit ?? false, hideSMTPUTF8: o.hideUtf8 ?? false,
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({ args: (session.envelope.mailFrom as { args?: Record<string, unknown> }).args ?? {}, data: Buffer.concat(chunks) });
        cb();
      });
    },
  } as SMTPServerOptions & { hide8BITMIME: boolean });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = (server as unknown as { server: import('node:net').Server }).server.address();
  return { port: typeof a === 'object' && a ? a.port : 0, mails, close: () => new Promise((r) => server.close(() => r())) };
}

const pool = () => new SmtpClientPool({ hostname: 'gw.test', maxPerDestination: 2, connectTimeoutMs: 10_000, idleTimeoutMs: 1000, log: pino({ level: 'silent' }) });
const EIGHT_BIT = Buffer.from('Subject: caf\xc3\xa9\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nd\xc3\xa9j\xc3\xa0 vu\r\n', 'latin1');
const SEVEN_BIT = Buffer.from('Subject: plain\r\n\r\nplain\r\n');

async function deliver(p: Peer, envelope: { from: string; to: string[] }, message: Buffer) {
  const c = pool();
  try {
    return await c.send({ name: 'peer.test', address: '127.0.0.1', port: p.port }, opportunisticPlan('peer.test'), envelope, message);
  } finally {
    c.close();
  }
}

test('8-bit content goes with BODY=8BITMIME, 7-bit content without; a UTF-8 address with SMTPUTF8', async () => {
  const p = await peer({});
  try {
    const r1 = await deliver(p, { from: 'a@b.test', to: ['c@d.test'] }, EIGHT_BIT);
    assert.equal(r1.recipients[0]!.outcome, 'delivered', r1.recipients[0]!.reply);
    assert.equal(p.mails[0]!.args.BODY, '8BITMIME');
    assert.deepEqual(p.mails[0]!.data, EIGHT_BIT);
    await deliver(p, { from: 'a@b.test', to: ['c@d.test'] }, SEVEN_BIT);
    assert.equal(p.mails[1]!.args.BODY, undefined);
    const r3 = await deliver(p, { from: 'a@b.test', to: ['jürgen@d.test'] }, EIGHT_BIT);
    assert.equal(r3.recipients[0]!.outcome, 'delivered', r3.recipients[0]!.reply);
    assert.equal(p.mails[2]!.args.SMTPUTF8, true);
  } finally {
    await p.close();
  }
});

test('a next hop without SMTPUTF8 gets no message for a UTF-8 address: the recipients bounce with 5.6.7', async () => {
  const p = await peer({ hideUtf8: true });
  try {
    const r = await deliver(p, { from: 'a@b.test', to: ['jürgen@d.test', 'c@d.test'] }, SEVEN_BIT);
    assert.deepEqual(r.recipients.map((x) => [x.outcome, x.status]), [['bounced', '5.6.7'], ['bounced', '5.6.7']]);
    assert.equal(p.mails.length, 0);
  } finally {
    await p.close();
  }
});

test('a next hop without 8BITMIME gets no 8-bit message: the recipients bounce with 5.6.3 (no downgrade); 7-bit mail still goes', async () => {
  const p = await peer({ hide8bit: true });
  try {
    const r = await deliver(p, { from: 'a@b.test', to: ['c@d.test'] }, EIGHT_BIT);
    assert.deepEqual(r.recipients.map((x) => [x.outcome, x.status]), [['bounced', '5.6.3']]);
    assert.equal(p.mails.length, 0);
    const ok = await deliver(p, { from: 'a@b.test', to: ['c@d.test'] }, SEVEN_BIT);
    assert.equal(ok.recipients[0]!.outcome, 'delivered');
  } finally {
    await p.close();
  }
});
