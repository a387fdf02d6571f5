// The delivery client against servers that misbehave before the SMTP conversation starts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import pino from 'pino';
import { ConnectionFailure, SmtpClientPool, opportunisticPlan } from '../../src/delivery/smtp-client.ts';

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  return typeof a === 'object' && a ? a.port : 0;
}

test('a server that closes the connection before its greeting fails the attempt (deferred), it does not hang', async () => {
  // Overloaded or tarpitting MX hosts do this; nodemailer then ends without an error.
  const server = createServer((socket) => socket.destroy());
  const port = await listen(server);
  const pool = new SmtpClientPool({ hostname: 'gw.test', maxPerDestination: 2, connectTimeoutMs: 30_000, idleTimeoutMs: 1000, log: pino({ level: 'silent' }) });
  try {
    const attempt = pool.send({ name: 'mx.test', address: '127.0.0.1', port }, opportunisticPlan('mx.test'), { from: 'a@b.test', to: ['c@d.test'] }, Buffer.from('Subject: x\r\n\r\nbody\r\n'));
    const outcome = await Promise.race([
      attempt.then(
        () => 'sent',
        (err: unknown) => err,
      ),
      new Promise((r) => setTimeout(() => r('still waiting after 15 s'), 15_000)),
    ]);
    assert.ok(outcome instanceof ConnectionFailure, String(outcome));
    assert.match(outcome.message, /closed/i);
    assert.equal(outcome.status, '4.4.1');
  } finally {
    pool.close();
    server.close();
  }
});
