// /metrics on the HTTPS server: a token with system.read scrapes it; after a message is
// relayed to a real smtp-sink and one is refused, the counters have moved. The exposition
// text is checked line by line against the Prometheus text format.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startApiGateway, type ApiGateway } from '../helpers/api.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/peers.ts';
import { sendMessage, simpleMessage } from '../helpers/smtp-probe.ts';
import { upsertRelayDomain } from '../../src/db/repos/relay-policy.ts';
import { eventually } from '../helpers/gateway.ts';

let api: ApiGateway;
let sink: SmtpSink;

before(async () => {
  sink = await startSmtpSink();
  api = await startApiGateway();
  await upsertRelayDomain(api.gw.db, { domain: 'example.com', nextHop: `127.0.0.1:${sink.port}` });
});

after(async () => {
  await api?.cleanup();
  await sink?.stop();
});

/** Parses the text format strictly: every line is HELP, TYPE or a well-formed sample. */
function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$/.exec(line);
    if (m) continue;
    m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (m) {
      types.set(m[1]!, m[2]!);
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*",?)*\})? (-?[0-9.e+-]+|NaN|[+-]Inf)( \d+)?$/.exec(line);
    assert.ok(m, `not a valid exposition line: ${JSON.stringify(line)}`);
    const family = m[1]!.replace(/_(bucket|sum|count|total|created)$/, '');
    assert.ok(types.has(m[1]!) || types.has(family) || types.has(m[1]!.replace(/_(bucket|sum|count)$/, '')), `sample ${m[1]} has a TYPE line`);
    samples.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return samples;
}

const sum = (s: Map<string, number>, prefix: string, ...has: string[]) =>
  [...s].filter(([k]) => k.startsWith(prefix) && has.every((h) => k.includes(h))).reduce((a, [, v]) => a + v, 0);

test('GET /metrics: refused without a token or without system.read; counters move after mail flows', async () => {
  assert.equal((await api.client().get('/metrics')).status, 401);
  assert.equal((await api.as('helpdesk').get('/metrics')).status, 403);

  const first = await api.as('auditor').get('/metrics');
  assert.equal(first.status, 200, `${first.text}\n${api.gw.output().slice(-3000)}`);
  const before = parseExposition(first.text);
  const sent = await sendMessage(api.gw.port, { from: 'a@outside.test', to: ['bob@example.com'] }, simpleMessage({ from: 'a@outside.test', to: 'bob@example.com', subject: 'metrics' }));
  assert.ok(sent.ok, JSON.stringify(sent));
  const refused = await sendMessage(api.gw.port, { from: 'a@outside.test', to: ['bob@example.com'] }, simpleMessage({ from: 'a@outside.test', to: 'bob@example.com', subject: 'eicar', body: 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' }));
  assert.equal(refused.ok, false, JSON.stringify(refused));
  await sink.waitForCount(1, 20_000);

  const after = await eventually(async () => {
    const r = await api.as('auditor').get('/metrics');
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const s = parseExposition(r.text);
    return sum(s, 'hermes_deliveries_total', 'outcome="delivered"') >= 1 ? s : null;
  }, 20_000, 'a delivery counted');

  const delta = (prefix: string, ...has: string[]) => sum(after, prefix, ...has) - sum(before, prefix, ...has);
  assert.equal(delta('hermes_messages_total', 'direction="inbound"', 'verdict="accepted"'), 1);
  // The refused message counts exactly as its trace record says it went.
  const traced = await api.gw.db.selectFrom('messages').select(['state', 'direction']).where('subject', '=', 'eicar').execute();
  const refusedInTrace = traced.filter((m) => m.state === 'rejected').length;
  assert.equal(delta('hermes_messages_total', 'verdict="rejected"'), refusedInTrace, `trace: ${JSON.stringify(traced)}; reply: ${JSON.stringify(refused)}`);
  assert.ok(delta('hermes_smtp_replies_total', 'code="250"') >= 1);
  assert.equal(delta('hermes_deliveries_total', 'outcome="delivered"'), 1);
  assert.ok(delta('hermes_stage_duration_seconds_count', 'stage="verify"') >= 2, 'the verify stage timed for both messages');
  assert.equal(sum(after, 'hermes_queue_recipients'), 0);
  assert.ok(after.has('hermes_queue_oldest_age_seconds{worker="0"}'));
  assert.ok(after.has('hermes_quarantine_held{worker="0"}'));
  assert.ok(sum(after, 'hermes_tls_certificate_expiry_seconds') > 86_400 * 300, 'the bootstrap certificate has years left');
  assert.ok(sum(after, 'process_resident_memory_bytes') > 10_000_000);
  assert.ok([...after.keys()].some((k) => k.startsWith('nodejs_eventloop_lag_seconds')));
});
