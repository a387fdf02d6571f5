// Per-client limits on the MX (smtp.limits.*): connections open at once, new connections
// per minute and messages per hour from one client address. The gateway runs its usual
// two worker processes, so a limit counted per worker would let a client have it twice:
// every count here is the gateway's total. Raw sockets from distinct loopback source
// addresses (127.0.0.0/8 is all local on Linux) play the clients.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection, type Socket } from 'node:net';
import { createTestGateway, eventually, type TestGateway } from '../helpers/gateway.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/peers.ts';
import { sendMessage } from '../helpers/smtp-probe.ts';
import { addRelayNetwork, upsertRelayDomain } from '../../src/db/repos/relay-policy.ts';
import { setSettings } from '../../src/config/settings.ts';

let gw: TestGateway;
let sink: SmtpSink;

before(async () => {
  sink = await startSmtpSink();
  gw = await createTestGateway();
  await upsertRelayDomain(gw.db, { domain: 'corp.test', nextHop: `127.0.0.1:${sink.port}` });
  await addRelayNetwork(gw.db, '127.0.0.9/32', 'our own mail server');
  await setSettings(gw.db, { 'smtp.limits.connectionsPerClient': 5 });
  await gw.start();
});

after(async () => {
  await gw?.cleanup();
  await sink?.stop();
});

interface Opened {
  socket: Socket;
  /** The first reply line the server sent ("220 ..." or "421 ..."). */
  greeting: string;
}

/** Opens a connection from `from` and waits for the server's first line. */
function open(from: string): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port: gw.port, localAddress: from });
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`no greeting from the gateway for ${from} within 30 s`)), 30_000);
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const nl = buf.indexOf('\r\n');
      if (nl < 0) return;
      clearTimeout(timer);
      socket.removeAllListeners('data');
      resolve({ socket, greeting: buf.slice(0, nl) });
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

async function greetingOf(from: string): Promise<string> {
  const c = await open(from);
  c.socket.end('QUIT\r\n');
  return c.greeting;
}

function closeAll(cs: Opened[]): void {
  for (const c of cs) c.socket.destroy();
}

test('the gateway runs two workers (so the counts below are across processes)', async () => {
  await eventually(() => /"workers":2/.test(gw.output()), 30_000, 'the "gateway workers started" line with workers: 2');
});

test('connections per client: the 6th idle connection of 127.0.0.1 gets 421 4.7.0 while 127.0.0.2 is greeted', async () => {
  const held: Opened[] = [];
  try {
    // Opened at once, so both worker processes take some of them.
    const all = await Promise.all(Array.from({ length: 8 }, () => open('127.0.0.1')));
    held.push(...all);
    const greeted = all.filter((c) => c.greeting.startsWith('220 '));
    const refused = all.filter((c) => c.greeting.startsWith('421 4.7.0 '));
    assert.equal(greeted.length, 5, `exactly the limit is greeted: ${all.map((c) => c.greeting).join(' | ')}`);
    assert.equal(refused.length, 3, `the rest get 421 4.7.0: ${all.map((c) => c.greeting).join(' | ')}`);
    assert.match(refused[0]!.greeting, /too many connections from 127\.0\.0\.1/, 'the reply says why');

    // Another client is not locked out by the first one's connections.
    assert.match(await greetingOf('127.0.0.2'), /^220 /, 'another client address gets its greeting');
    // Our own networks are not limited by the outsiders' rules.
    const own = await Promise.all(Array.from({ length: 7 }, () => open('127.0.0.9')));
    held.push(...own);
    assert.ok(own.every((c) => c.greeting.startsWith('220 ')), `a relay network is exempt: ${own.map((c) => c.greeting).join(' | ')}`);

    // One connection of the first client closes: it may open one again.
    assert.match(await greetingOf('127.0.0.1'), /^421 4\.7\.0 /, 'still at the limit');
    greeted[0]!.socket.destroy();
    await eventually(async () => (await greetingOf('127.0.0.1')).startsWith('220 '), 15_000, 'a greeting for 127.0.0.1 once one of its connections closed');
  } finally {
    closeAll(held);
  }
  // Log lines are buffered and flushed every 250 ms (src/log.ts): wait for the flush.
  await eventually(() => /client over its limit/.test(gw.output()), 10_000, 'the refusal is logged');
});

test('connections per minute: the 4th new connection of 127.0.0.3 within the minute gets 421 4.7.0', async () => {
  await setSettings(gw.db, { 'smtp.limits.connectionsPerMinute': 3 });
  try {
    // Sequential sessions: each may land on either worker.
    for (let i = 0; i < 3; i++) assert.match(await greetingOf('127.0.0.3'), /^220 /, `connection ${i + 1} of 3 is greeted`);
    const fourth = await greetingOf('127.0.0.3');
    assert.match(fourth, /^421 4\.7\.0 .*connection-rate/, `over the rate: ${fourth}`);
    assert.match(await greetingOf('127.0.0.4'), /^220 /, 'another client is greeted');
  } finally {
    await setSettings(gw.db, { 'smtp.limits.connectionsPerMinute': 0 });
  }
  assert.match(await greetingOf('127.0.0.3'), /^220 /, 'with the rate limit off the client is greeted again');
});

test('messages per hour: the 3rd message of 127.0.0.5 gets 450 4.7.1 at MAIL; another client still sends', async () => {
  await setSettings(gw.db, { 'smtp.limits.messagesPerHour': 2 });
  try {
    const msg = (n: number) => `From: a@outside.test\r\nTo: bob@corp.test\r\nSubject: rate ${n}\r\n\r\nbody ${n}\r\n`;
    for (let n = 1; n <= 2; n++) {
      const r = await sendMessage(gw.port, { from: 'a@outside.test', to: ['bob@corp.test'] }, msg(n), { localAddress: '127.0.0.5' });
      assert.equal(r.code, 250, `message ${n} is accepted: ${r.response}`);
    }
    const third = await sendMessage(gw.port, { from: 'a@outside.test', to: ['bob@corp.test'] }, msg(3), { localAddress: '127.0.0.5' });
    assert.equal(third.code, 450, `the third is deferred: ${third.response}`);
    assert.match(third.response, /4\.7\.1 .*too much mail from 127\.0\.0\.5/, 'with the reason');
    const other = await sendMessage(gw.port, { from: 'a@outside.test', to: ['bob@corp.test'] }, msg(4), { localAddress: '127.0.0.6' });
    assert.equal(other.code, 250, `another client is accepted: ${other.response}`);
  } finally {
    await setSettings(gw.db, { 'smtp.limits.messagesPerHour': 0 });
  }
});
