// The spamd adapter: what it sends (SPAMC/1.5 SYMBOLS, a Content-length that matches,
// the envelope as Return-Path and Received lines above the message), how spamd's
// answer becomes symbols in the score, and what a dead or slow spamd does to mail
// (onError 'ignore' scores without it, 'tempfail' ends in a 451). The protocol against
// a real spamd is in test/integration/external-engines.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import PostalMime from 'postal-mime';
import { SETTINGS_DEFAULTS, validateSetting } from '../../src/config/settings.ts';
import { SpamEngine } from '../../src/pipeline/filter/spam/index.ts';
import type { SpamInput } from '../../src/pipeline/filter/spam/types.ts';
import { spamdCheck, externalTempfailStage, parseSpamdAddress, type ExternalSettings } from '../../src/pipeline/filter/external/index.ts';
import { parseReply, parseSpamHeader } from '../../src/pipeline/filter/external/spamd-client.ts';
import type { MessageContext } from '../../src/pipeline/context.ts';

const RAW = 'From: Alice <alice@example.org>\r\nTo: bob@corp.test\r\nSubject: offer\r\nMessage-ID: <1@example.org>\r\n\r\nBuy now.\r\n';

async function input(raw = RAW): Promise<SpamInput> {
  return {
    raw: Buffer.from(raw),
    parsed: await PostalMime.parse(raw),
    envelope: { mailFrom: 'bounce@example.org', rcptTo: ['bob@corp.test'], clientIp: '192.0.2.7', helo: 'mail.example.org' },
    now: new Date('2026-11-21T12:00:00Z'),
  };
}

function settings(over: Partial<ExternalSettings>): () => ExternalSettings {
  return () => ({ ...SETTINGS_DEFAULTS, ...over });
}

/** A stand-in spamd: records each request and answers with `reply` (or never, when null). */
async function fakeSpamd(reply: string | null, unixPath?: string): Promise<{ address: string; requests: Buffer[]; close(): Promise<void> }> {
  const requests: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true }, (sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    const chunks: Buffer[] = [];
    sock.on('data', (d) => chunks.push(d));
    sock.on('end', () => {
      requests.push(Buffer.concat(chunks));
      if (reply !== null) sock.end(reply);
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => (unixPath ? server.listen(unixPath, r) : server.listen(0, '127.0.0.1', r)));
  return {
    address: unixPath ? `unix:${unixPath}` : `127.0.0.1:${(server.address() as { port: number }).port}`,
    requests,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/** A loopback port with nothing listening. */
async function closedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return `127.0.0.1:${port}`;
}

test('spamd gets a SPAMC/1.5 SYMBOLS request whose Content-length counts the message with its envelope trace lines', async () => {
  const spamd = await fakeSpamd('SPAMD/1.1 0 EX_OK\r\nContent-length: 25\r\nSpam: True ; 7.3 / 5.0\r\n\r\nHTML_ONLY,LOCAL_SPAM_WORD');
  try {
    const symbols = await spamdCheck({ settings: settings({ 'external.spamd': spamd.address }), hostname: 'mx.corp.test' }).run(await input(), null as never);
    const req = spamd.requests[0]!.toString('utf8');
    const [head, body] = [req.slice(0, req.indexOf('\r\n\r\n')), req.slice(req.indexOf('\r\n\r\n') + 4)];
    assert.match(head, /^SYMBOLS SPAMC\/1\.5\r\nContent-length: (\d+)$/);
    assert.equal(Number(/Content-length: (\d+)/.exec(head)![1]), Buffer.byteLength(body));
    assert.ok(body.startsWith('Return-Path: <bounce@example.org>\r\nReceived: from mail.example.org (unknown [192.0.2.7])\r\n\tby mx.corp.test (Hermes SEG) with ESMTP;\r\n\tSat, 21 Nov 2026 12:00:00 +0000\r\n'), body);
    assert.ok(body.endsWith(RAW));
    assert.deepEqual(
      symbols.map((s) => [s.name, s.score]),
      [['SPAMD_SCORE', 7.3], ['SA_HTML_ONLY', 0], ['SA_LOCAL_SPAM_WORD', 0]],
    );
    assert.match(symbols[0]!.description, /7\.3 \/ 5, spam; rules: HTML_ONLY, LOCAL_SPAM_WORD/);
  } finally {
    await spamd.close();
  }
});

test("spamd's score is scaled by external.spamdWeight; a ham score can lower the total", async () => {
  const spamd = await fakeSpamd('SPAMD/1.1 0 EX_OK\r\nContent-length: 8\r\nSpam: False ; -1.5 / 5.0\r\n\r\nALL_GOOD');
  try {
    const [s] = await spamdCheck({ settings: settings({ 'external.spamd': spamd.address, 'external.spamdWeight': 0.5 }) }).run(await input(), null as never);
    assert.equal(s!.name, 'SPAMD_SCORE');
    assert.equal(s!.score, -0.75);
  } finally {
    await spamd.close();
  }
});

test('spamd on a unix socket ("unix:/path") is spoken to the same way', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hermes-spamd-unit-'));
  const spamd = await fakeSpamd('SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\nSpam: False ; 1.2 / 5.0\r\n\r\n', join(dir, 'spamd.sock'));
  try {
    const symbols = await spamdCheck({ settings: settings({ 'external.spamd': spamd.address }) }).run(await input(), null as never);
    assert.deepEqual(symbols.map((s) => [s.name, s.score]), [['SPAMD_SCORE', 1.2]]);
    assert.match(spamd.requests[0]!.toString(), /^SYMBOLS SPAMC\/1\.5\r\n/);
  } finally {
    await spamd.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('with external.spamd null (the default) the check does nothing', async () => {
  assert.equal(SETTINGS_DEFAULTS['external.spamd'], null);
  assert.deepEqual(await spamdCheck({ settings: settings({}) }).run(await input(), null as never), []);
});

test('a message over external.maxScanBytes is not sent; SPAMD_SKIPPED says so', async () => {
  const spamd = await fakeSpamd('SPAMD/1.1 0 EX_OK\r\nSpam: True ; 9.0 / 5.0\r\n\r\n');
  try {
    const big = RAW + 'x'.repeat(3000) + '\r\n';
    const symbols = await spamdCheck({ settings: settings({ 'external.spamd': spamd.address, 'external.maxScanBytes': 2048 }) }).run(await input(big), null as never);
    assert.deepEqual(symbols.map((s) => [s.name, s.score]), [['SPAMD_SKIPPED', 0]]);
    assert.equal(spamd.requests.length, 0);
  } finally {
    await spamd.close();
  }
});

test('spamd down, onError ignore (default): the message is scored without it and SPAMD_UNAVAILABLE is in the symbols', async () => {
  const engine = new SpamEngine({ checks: [spamdCheck({ settings: settings({ 'external.spamd': await closedPort() }) })] });
  const r = await engine.scan(await input());
  assert.deepEqual(r.errors, []);
  assert.equal(r.symbols[0]!.name, 'SPAMD_UNAVAILABLE');
  assert.equal(r.symbols[0]!.score, 0);
  assert.match(r.symbols[0]!.description, /ECONNREFUSED/);
});

test('spamd too slow, onError tempfail: the check fails and the tempfail stage answers 451', async () => {
  const spamd = await fakeSpamd(null);
  try {
    const engine = new SpamEngine({ checks: [spamdCheck({ settings: settings({ 'external.spamd': spamd.address, 'external.spamdTimeoutMs': 300, 'external.spamdOnError': 'tempfail' }) })] });
    const r = await engine.scan(await input());
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0]!.check, 'spamd');
    assert.match(r.errors[0]!.error, /did not answer within 300 ms/);
    const traced: unknown[] = [];
    const ctx = { findings: { spam: r }, reject: null, trace: (...a: unknown[]) => traced.push(a) } as unknown as MessageContext;
    await externalTempfailStage().run(ctx);
    assert.equal(ctx.reject?.code, 451);
    assert.equal(ctx.reject?.enhanced, '4.7.1');
    assert.equal(traced.length, 1);
  } finally {
    await spamd.close();
  }
});

test("spamd's error replies and malformed answers are errors that say what spamd said", () => {
  assert.throws(() => parseReply(Buffer.from('SPAMD/1.0 76 Bad header line: (Content-length mismatch: 10 vs. 12)\r\n')), /refused the request: Bad header line/);
  assert.throws(() => parseReply(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n')), /not SPAMD\/1\.x/);
  assert.throws(() => parseReply(Buffer.alloc(0)), /closed the connection without an answer/);
  assert.deepEqual(parseSpamHeader('True ; 7.3 / 5.0'), { isSpam: true, score: 7.3, threshold: 5 });
  assert.deepEqual(parseSpamHeader('No ; -0.1 / 5.0'), { isSpam: false, score: -0.1, threshold: 5 });
  assert.throws(() => parseSpamHeader('maybe'), /not "True ; score \/ threshold"/);
});

test('external.spamd takes "host:port", "[v6]:port" or "unix:/path"; the other settings are checked too', () => {
  assert.deepEqual(parseSpamdAddress('127.0.0.1:783'), { kind: 'tcp', host: '127.0.0.1', port: 783 });
  assert.deepEqual(parseSpamdAddress('[::1]:783'), { kind: 'tcp', host: '::1', port: 783 });
  assert.deepEqual(parseSpamdAddress('unix:/run/spamd.sock'), { kind: 'unix', path: '/run/spamd.sock' });
  validateSetting('external.spamd', 'spamd.internal:783');
  validateSetting('external.spamd', null);
  assert.throws(() => validateSetting('external.spamd', 'spamd.internal'), /must be "host:port"/);
  assert.throws(() => validateSetting('external.spamd', 'tcp:1.2.3.4:99999'), /must be "host:port"/);
  assert.throws(() => validateSetting('external.spamdWeight', 11), /between 0 and 10/);
  assert.throws(() => validateSetting('external.spamdOnError', 'accept'), /"ignore", "tempfail"/);
  assert.throws(() => validateSetting('external.spamdTimeoutMs', 5), /milliseconds/);
  assert.equal(SETTINGS_DEFAULTS['external.spamdOnError'], 'ignore');
});
