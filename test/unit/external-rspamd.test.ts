// The Rspamd adapter: the request Rspamd's /checkv2 expects (the message as the body,
// the envelope in IP, Helo, From and one Rcpt header per recipient), how its JSON reply
// becomes RSPAMD_* symbols weighted into the score, and what an unreachable or failing
// Rspamd does to mail. The same against a real Rspamd is in
// test/integration/external-engines.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import PostalMime from 'postal-mime';
import { SETTINGS_DEFAULTS, validateSetting } from '../../src/config/settings.ts';
import { SpamEngine } from '../../src/pipeline/filter/spam/index.ts';
import type { SpamInput } from '../../src/pipeline/filter/spam/types.ts';
import { rspamdCheck, type ExternalSettings } from '../../src/pipeline/filter/external/index.ts';
import { parseCheckReply } from '../../src/pipeline/filter/external/rspamd-client.ts';

const RAW = 'From: Alice <alice@example.org>\r\nTo: bob@corp.test\r\nSubject: offer\r\n\r\nBuy now.\r\n';

async function input(): Promise<SpamInput> {
  return {
    raw: Buffer.from(RAW),
    parsed: await PostalMime.parse(RAW),
    envelope: { mailFrom: 'bounce@example.org', rcptTo: ['bob@corp.test', 'carol@corp.test'], clientIp: '192.0.2.7', helo: 'mail.example.org' },
  };
}

const settings = (over: Partial<ExternalSettings>) => () => ({ ...SETTINGS_DEFAULTS, ...over });

interface Seen {
  method: string;
  url: string;
  rawHeaders: string[];
  body: Buffer;
}

/** A stand-in Rspamd worker answering every request with (status, body). */
async function fakeRspamd(status: number, reply: unknown) {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks) });
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(reply));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return { url, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** rspamd 3.x's reply shape (trimmed to what matters). */
const REPLY = {
  is_skipped: false,
  score: 9.1,
  required_score: 15,
  action: 'add header',
  symbols: {
    BAYES_SPAM: { name: 'BAYES_SPAM', score: 5.1, metric_score: 5.1, description: 'Message probably spam', options: ['99.9%'] },
    R_SPF_FAIL: { name: 'R_SPF_FAIL', score: 1, description: 'SPF verification failed' },
    MIME_GOOD: { name: 'MIME_GOOD', score: -0.1, description: 'Known content-type' },
    ARC_NA: { name: 'ARC_NA', score: 0, description: 'ARC signature absent' },
  },
  messages: {},
};

test('Rspamd gets POST /checkv2 with the message and the envelope in IP, Helo, From and one Rcpt header per recipient', async () => {
  const rspamd = await fakeRspamd(200, REPLY);
  try {
    await rspamdCheck({ settings: settings({ 'external.rspamd': rspamd.url }) }).run(await input(), null as never);
    const req = rspamd.seen[0]!;
    assert.equal(req.method, 'POST');
    assert.equal(req.url, '/checkv2');
    assert.equal(req.body.toString(), RAW);
    const pairs: [string, string][] = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) pairs.push([req.rawHeaders[i]!.toLowerCase(), req.rawHeaders[i + 1]!]);
    const get = (n: string) => pairs.filter(([k]) => k === n).map(([, v]) => v);
    assert.deepEqual(get('ip'), ['192.0.2.7']);
    assert.deepEqual(get('helo'), ['mail.example.org']);
    assert.deepEqual(get('from'), ['bounce@example.org']);
    assert.deepEqual(get('rcpt'), ['bob@corp.test', 'carol@corp.test']);
    assert.deepEqual(get('content-length'), [String(Buffer.byteLength(RAW))]);
  } finally {
    await rspamd.close();
  }
});

test("each scoring Rspamd symbol becomes RSPAMD_<NAME> with its score times the weight; zero-score ones are left out", async () => {
  const rspamd = await fakeRspamd(200, REPLY);
  try {
    const symbols = await rspamdCheck({ settings: settings({ 'external.rspamd': rspamd.url, 'external.rspamdWeight': 0.5 }) }).run(await input(), null as never);
    assert.deepEqual(
      symbols.map((s) => [s.name, s.score]),
      [['RSPAMD_BAYES_SPAM', 2.55], ['RSPAMD_R_SPF_FAIL', 0.5], ['RSPAMD_MIME_GOOD', -0.05], ['RSPAMD_OTHER', 1.55]],
    );
    // The weighted total is exactly Rspamd's score times the weight (9.1 / 2).
    assert.equal(Math.round(symbols.reduce((t, s) => t + s.score, 0) * 1000) / 1000, 4.55);
    assert.match(symbols[0]!.description, /Message probably spam \(99\.9%\)/);
  } finally {
    await rspamd.close();
  }
});

test('Rspamd answering an error: onError ignore scores without it (RSPAMD_UNAVAILABLE with its message); tempfail fails the check', async () => {
  const rspamd = await fakeRspamd(500, { error: 'cannot parse message' });
  try {
    const ignored = await new SpamEngine({ checks: [rspamdCheck({ settings: settings({ 'external.rspamd': rspamd.url }) })] }).scan(await input());
    assert.deepEqual(ignored.errors, []);
    assert.deepEqual(ignored.symbols.map((s) => [s.name, s.score]), [['RSPAMD_UNAVAILABLE', 0]]);
    assert.match(ignored.symbols[0]!.description, /HTTP 500: cannot parse message/);
    const failed = await new SpamEngine({ checks: [rspamdCheck({ settings: settings({ 'external.rspamd': rspamd.url, 'external.rspamdOnError': 'tempfail' }) })] }).scan(await input());
    assert.deepEqual(failed.errors.map((e) => e.check), ['rspamd']);
  } finally {
    await rspamd.close();
  }
});

test('an internationalised recipient (SMTPUTF8) reaches Rspamd as UTF-8', async () => {
  const rspamd = await fakeRspamd(200, REPLY);
  try {
    const i = await input();
    i.envelope!.rcptTo = ['jörg@corp.test'];
    await rspamdCheck({ settings: settings({ 'external.rspamd': rspamd.url }) }).run(i, null as never);
    const raw = rspamd.seen[0]!.rawHeaders;
    const value = raw[raw.findIndex((k) => k.toLowerCase() === 'rcpt') + 1]!;
    assert.equal(Buffer.from(value, 'latin1').toString('utf8'), 'jörg@corp.test');
  } finally {
    await rspamd.close();
  }
});

test('a reply that is not Rspamd JSON is an error, not a score of 0', () => {
  assert.throws(() => parseCheckReply('<html>proxy error</html>'), /did not answer with JSON/);
  assert.throws(() => parseCheckReply('{"action":"no action"}'), /without a score/);
  const skipped = parseCheckReply('{"is_skipped":true,"score":0,"required_score":15,"action":"no action","symbols":{}}');
  assert.equal(skipped.skipped, true);
  assert.equal(skipped.symbols.length, 0);
});

test('external.rspamd must be "http://host:port"; null (the default) leaves Rspamd out', async () => {
  validateSetting('external.rspamd', 'http://127.0.0.1:11333');
  validateSetting('external.rspamd', 'http://[::1]:11333/');
  validateSetting('external.rspamd', null);
  assert.throws(() => validateSetting('external.rspamd', 'https://rspamd:11333'), /must use http:/);
  assert.throws(() => validateSetting('external.rspamd', 'http://rspamd:11333/checkv2'), /without path/);
  assert.throws(() => validateSetting('external.rspamd', 'rspamd:11333'), /http URL|must use http:/);
  assert.equal(SETTINGS_DEFAULTS['external.rspamd'], null);
  assert.deepEqual(await rspamdCheck({ settings: settings({}) }).run(await input(), null as never), []);
});
