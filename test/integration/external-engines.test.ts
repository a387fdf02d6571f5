// The external spam engines against the real programs: a private SpamAssassin spamd
// and a private Rspamd (both Debian packages, minimal local configurations, loopback
// ports; see test/helpers/spamd.ts and rspamd.ts), each with a local rule that fires on
// a test word. First the adapters on their own, then end to end through SMTP: the
// engines' weighted scores merge into the gateway's score (trace, X-Spam-Status, the
// policy's action), a stopped spamd is scored around (onError ignore) or gets 451
// (onError tempfail), and `hermes external status` tells which engine answers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import PostalMime from 'postal-mime';
import { createTestGateway, eventually, type TestGateway } from '../helpers/gateway.ts';
import { startSmtpSink, type SmtpSink, type SinkMessage } from '../helpers/peers.ts';
import { queueId, sendMessage, simpleMessage } from '../helpers/smtp-probe.ts';
import { arrivedAtSink, messageEvents } from '../helpers/message-trace.ts';
import { startSpamd, SPAMD_ENVFROM, SPAMD_TEST_TOKEN, type Spamd } from '../helpers/spamd.ts';
import { startRspamd, RSPAMD_HAM_TOKEN, type Rspamd } from '../helpers/rspamd.ts';
import { upsertRelayDomain } from '../../src/db/repos/relay-policy.ts';
import { SETTINGS_DEFAULTS, setSetting, setSettings } from '../../src/config/settings.ts';
import { SpamEngine } from '../../src/pipeline/filter/spam/index.ts';
import { externalChecks } from '../../src/pipeline/filter/external/index.ts';

let spamd: Spamd;
let rspamd: Rspamd;
let gw: TestGateway;
let sink: SmtpSink;

before(async () => {
  [spamd, rspamd, sink] = await Promise.all([startSpamd(), startRspamd(), startSmtpSink()]);
  gw = await createTestGateway();
  await upsertRelayDomain(gw.db, { domain: 'corp.test', nextHop: `127.0.0.1:${sink.port}` });
  await setSettings(gw.db, {
    'spam.autolearn': false,
    'external.spamd': spamd.address,
    'external.rspamd': rspamd.url,
    // Half of each engine's score: the test word scores 6.5 in both, so together
    // they put a message over the quarantine threshold (5) but under reject (15).
    'external.spamdWeight': 0.5,
    'external.rspamdWeight': 0.5,
    'external.spamdTimeoutMs': 30_000,
    'external.rspamdTimeoutMs': 30_000,
  });
  await gw.start();
});

after(async () => {
  await gw?.cleanup();
  await sink?.stop();
  await spamd?.stop();
  spamd?.cleanup();
  await rspamd?.stop();
  rspamd?.cleanup();
});

const names = (symbols: { name: string; score: number }[]) => Object.fromEntries(symbols.map((s) => [s.name, s.score]));

test('the adapters against real spamd and Rspamd: their rules fire, their scores arrive, the envelope gets through', async () => {
  const raw = Buffer.from(simpleMessage({ from: 'alice@example.org', to: 'bob@corp.test', subject: 'offer', body: `Today only: ${SPAMD_TEST_TOKEN}.` }));
  const settings = () => ({ ...SETTINGS_DEFAULTS, 'external.spamd': spamd.address, 'external.rspamd': rspamd.url, 'external.spamdTimeoutMs': 30_000, 'external.rspamdTimeoutMs': 30_000 });
  const engine = new SpamEngine({ checks: externalChecks({ settings, hostname: 'mx.corp.test' }) });
  const r = await engine.scan({ raw, parsed: await PostalMime.parse(raw), envelope: { mailFrom: SPAMD_ENVFROM, rcptTo: ['bob@corp.test', 'carol@corp.test'], clientIp: '192.0.2.7', helo: 'mail.example.org' } });
  assert.deepEqual(r.errors, []);
  const got = names(r.symbols);
  // spamd: the body rule (6.5) and the envelope-sender rule (0.5, matched on our Return-Path line).
  assert.equal(got['SPAMD_SCORE'], 7);
  assert.equal(got['SA_HERMES_EXT_TEST'], 0);
  assert.equal(got['SA_HERMES_EXT_ENVFROM'], 0);
  // Rspamd: the body rule and the one that reports the envelope it received in the request headers.
  assert.equal(got['RSPAMD_HERMES_EXT_TEST'], 6.5);
  assert.equal(got['RSPAMD_HERMES_EXT_ENVELOPE'], 0.25);
  const env = r.symbols.find((s) => s.name === 'RSPAMD_HERMES_EXT_ENVELOPE')!.description;
  assert.match(env, /ip=192\.0\.2\.7, helo=mail\.example\.org, from=envelope-sender@example\.org, rcpt=bob@corp\.test\+carol@corp\.test/);
  assert.equal(r.score, 13.75);
});

const events = (id: string) => messageEvents(gw, id);

const arrived = (marker: string) => arrivedAtSink(sink, marker, 30_000);

const send = (subject: string, body: string) =>
  sendMessage(gw.port, { from: SPAMD_ENVFROM, to: ['alice@corp.test'] }, simpleMessage({ from: SPAMD_ENVFROM, to: 'alice@corp.test', subject, body, messageId: `<${subject}@client.test>` }));

const head = (m: SinkMessage) => m.raw.toString('latin1').split('\r\n\r\n')[0]!.replace(/\r\n[ \t]+/g, ' ');

test('through SMTP: both engines\' weighted scores are in the trace and the total; together they get a message quarantined', async () => {
  const r = await send('ext-spam', `Hello Alice, ${SPAMD_TEST_TOKEN} inside.`);
  assert.equal(r.code, 250, r.response);
  const id = queueId(r);
  const ev = await eventually(async () => ((await events(id)).some((e) => e.type === 'policy') ? events(id) : null), 30_000, 'trace');
  const spam = ev.find((e) => e.type === 'spam')!.detail;
  // weight 0.5: spamd 7 -> 3.5, Rspamd 6.5 + 0.25 -> 3.25 + 0.125
  assert.match(spam.symbols, /(^|,)SPAMD_SCORE=3\.5(,|$)/);
  assert.match(spam.symbols, /(^|,)RSPAMD_HERMES_EXT_TEST=3\.25(,|$)/);
  assert.match(spam.symbols, /(^|,)RSPAMD_HERMES_EXT_ENVELOPE=0\.125(,|$)/);
  assert.match(spam.symbols, /(^|,)SA_HERMES_EXT_TEST=0(,|$)/);
  assert.ok(spam.score >= 6.875, `score ${spam.score}`);
  assert.equal(ev.find((e) => e.type === 'policy')!.detail.fate, 'quarantined');
});

test('through SMTP: a clean message is delivered with the engines\' symbols in X-Spam-Status; a ham symbol lowers the score', async () => {
  const r = await send('ext-ham', `Hello Alice, the minutes are attached. ${RSPAMD_HAM_TOKEN}`);
  assert.equal(r.code, 250, r.response);
  const h = head(await arrived('ext-ham@client.test'));
  assert.match(h, /^X-Spam-Status: No, score=-?[\d.]+ tests=.*RSPAMD_HERMES_EXT_HAM=-1\b/m);
  assert.match(h, /^X-Spam-Status: .*SPAMD_SCORE=0\.25\b/m);
});

test('spamd stopped: with onError ignore mail is delivered, scored without it (SPAMD_UNAVAILABLE); with tempfail it gets 451', async () => {
  const status = await gw.cli(['external', 'status']);
  assert.equal(status.code, 0, status.stdout + status.stderr);
  assert.match(status.stdout, new RegExp(`^spamd ${spamd.address}: PONG`, 'm'));
  assert.match(status.stdout, new RegExp(`^rspamd ${rspamd.url}: pong`, 'm'));

  // What the engines say about a file, without sending mail.
  const file = join(gw.dataDir, 'offer.eml');
  writeFileSync(file, simpleMessage({ from: 'alice@example.org', to: 'bob@corp.test', subject: 'offer', body: `Today only: ${SPAMD_TEST_TOKEN}.` }));
  const scan = await gw.cli(['external', 'scan', file, '--from', SPAMD_ENVFROM]);
  assert.equal(scan.code, 0, scan.stdout + scan.stderr);
  assert.match(scan.stdout, new RegExp(`^${file}: 6\\.88$`, 'm'));
  assert.match(scan.stdout, /^ {2}SPAMD_SCORE=3\.5 {2}SpamAssassin \(spamd\): 7 \/ 5, spam, weighted 0\.5; rules: HERMES_EXT_ENVFROM, HERMES_EXT_TEST$/m);
  assert.match(scan.stdout, /^ {2}RSPAMD_HERMES_EXT_TEST=3\.25 /m);

  await spamd.stop();
  const down = await gw.cli(['external', 'status']);
  assert.equal(down.code, 1);
  assert.match(down.stdout, /^spamd .*: NOT ANSWERING: .*ECONNREFUSED; mail is scored without it while it is down/m);

  const r = await send('ext-spamd-down', 'Hello Alice, nothing special.');
  assert.equal(r.code, 250, r.response);
  const h = head(await arrived('ext-spamd-down@client.test'));
  assert.match(h, /^X-Spam-Status: .*SPAMD_UNAVAILABLE=0\b/m);
  assert.match(h, /^X-Spam-Status: .*RSPAMD_HERMES_EXT_ENVELOPE=0\.125\b/m);

  await setSetting(gw.db, 'external.spamdOnError', 'tempfail');
  const refused = await send('ext-spamd-tempfail', 'Hello Alice, nothing special either.');
  assert.equal(refused.code, 451, refused.response);
  assert.match(refused.response, /4\.7\.1 Temporary failure scanning the message for spam/);
});
