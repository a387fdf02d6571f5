// Both external engines together, as the gateway registers them: they scan the message
// at the same time (a message waits for the slower engine, not for both in turn), and
// both results land in one spam result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import PostalMime from 'postal-mime';
import { SETTINGS_DEFAULTS } from '../../src/config/settings.ts';
import { SpamEngine } from '../../src/pipeline/filter/spam/index.ts';
import { externalChecks } from '../../src/pipeline/filter/external/index.ts';

const RAW = 'From: alice@example.org\r\nTo: bob@corp.test\r\nSubject: hi\r\n\r\nHello.\r\n';

test('spamd and Rspamd scan at the same time: a spamd that answers only once Rspamd has the message still gets its score in', async () => {
  let rspamdRequests = 0;
  let releaseSpamd: () => void = () => {};
  const rspamdHasIt = new Promise<void>((r) => (releaseSpamd = r));
  const sockets = new Set<Socket>();
  // spamd holds its answer until Rspamd has been asked: run one after the other, it would time out.
  const spamd = createTcpServer({ allowHalfOpen: true }, (sock) => {
    sockets.add(sock);
    sock.on('error', () => {});
    sock.on('end', () => void rspamdHasIt.then(() => sock.end('SPAMD/1.1 0 EX_OK\r\nContent-length: 9\r\nSpam: True ; 6.0 / 5.0\r\n\r\nLOCAL_ONE')));
    sock.resume();
  });
  const rspamd = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => {
      rspamdRequests++;
      releaseSpamd();
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ score: 2, required_score: 15, action: 'no action', symbols: { R_ONE: { name: 'R_ONE', score: 2 } } }));
    });
  });
  await new Promise<void>((r) => spamd.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => rspamd.listen(0, '127.0.0.1', r));
  try {
    const settings = () => ({
      ...SETTINGS_DEFAULTS,
      'external.spamd': `127.0.0.1:${(spamd.address() as { port: number }).port}`,
      'external.rspamd': `http://127.0.0.1:${(rspamd.address() as { port: number }).port}`,
      // Generous: on a loaded machine the exchange itself may take a while.
      'external.spamdTimeoutMs': 20_000,
      'external.spamdOnError': 'tempfail' as const,
      'external.rspamdOnError': 'tempfail' as const,
    });
    const engine = new SpamEngine({ checks: externalChecks({ settings }) });
    const input = { raw: Buffer.from(RAW), parsed: await PostalMime.parse(RAW), envelope: { mailFrom: 'alice@example.org', rcptTo: ['bob@corp.test'], clientIp: '192.0.2.7' } };
    const r = await engine.scan(input);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.symbols.map((s) => [s.name, s.score]), [['SPAMD_SCORE', 6], ['SA_LOCAL_ONE', 0], ['RSPAMD_R_ONE', 2]]);
    assert.equal(r.score, 8);
    // The same input scanned again asks the engines again.
    await engine.scan(input);
    assert.equal(rspamdRequests, 2);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => spamd.close(r));
    await new Promise((r) => rspamd.close(r));
  }
});
