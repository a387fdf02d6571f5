// Outbound delivery by MX lookup through a local test DNS server, and the failures a
// sender must hear about: nonexistent domains, null MX, TLS required but not offered.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestGateway, eventually, type TestGateway } from '../helpers/gateway.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/peers.ts';
import { startTestDns, type TestDns } from '../helpers/dns-server.ts';
import { sendMessage, simpleMessage } from '../helpers/smtp-probe.ts';
import { addRelayNetwork, upsertRelayDomain } from '../../src/db/repos/relay-policy.ts';
import { setSetting } from '../../src/config/settings.ts';

let gw: TestGateway;
let mx: SmtpSink;
let home: SmtpSink;
let dns: TestDns;

before(async () => {
  mx = await startSmtpSink();
  home = await startSmtpSink();
  dns = await startTestDns({
    // Two MX hosts: the preferred one refuses connections, the backup takes the mail.
    'partner.test': { MX: [{ exchange: 'mx1.partner.test', priority: 10 }, { exchange: 'mx2.partner.test', priority: 20 }] },
    'mx1.partner.test': { A: ['127.0.0.2'] },
    'mx2.partner.test': { A: ['127.0.0.1'] },
    // No MX: the domain's own address is used (RFC 5321 5.1).
    'nomx.test': { A: ['127.0.0.1'] },
    // Null MX (RFC 7505): the domain takes no mail.
    'nullmx.test': { MX: [{ exchange: '', priority: 0 }] },
  });
  gw = await createTestGateway({ dnsServer: dns.server });
  await addRelayNetwork(gw.db, '127.0.0.0/8');
  // smtp-sink listens on 127.0.0.1 only, so mx1 (127.0.0.2) refuses the connection.
  await setSetting(gw.db, 'delivery.mxPort', mx.port);
  await setSetting(gw.db, 'delivery.retry', { minimalBackoffSec: 1, maximalBackoffSec: 1, queueLifetimeSec: 3600 });
  await upsertRelayDomain(gw.db, { domain: 'home.test', nextHop: `127.0.0.1:${home.port}` });
  await upsertRelayDomain(gw.db, { domain: 'secure.test', nextHop: `127.0.0.1:${home.port}`, requireTls: true });
  await gw.start();
});

after(async () => {
  await gw?.cleanup();
  await mx?.stop();
  await home?.stop();
  await dns?.close();
});

async function send(to: string, subject: string) {
  const r = await sendMessage(gw.port, { from: 'user@home.test', to: [to] }, simpleMessage({ from: 'user@home.test', to, subject }));
  assert.ok(r.ok, r.response);
  return /queued as ([0-9A-Z]+)/.exec(r.response)![1]!;
}

async function statusOf(id: string) {
  return (await gw.db.selectFrom('recipients').selectAll().where('message_id', '=', id).executeTakeFirst())!;
}

test('outbound by MX: the backup MX takes the mail when the preferred one refuses', async () => {
  const id = await send('friend@partner.test', 'via mx2');
  await eventually(async () => (await mx.messages()).some((m) => m.raw.includes('via mx2')), 15_000, 'delivery via the backup MX');
  await eventually(async () => (await statusOf(id)).status === 'delivered', 5000, 'delivered status');
  const trace = await gw.cli(['trace', id]);
  assert.match(trace.stdout, /connect-failed\s+host=mx1\.partner\.test\[127\.0\.0\.2\]/);
  assert.match(trace.stdout, /delivered\s+<friend@partner\.test>.*remote=mx2\.partner\.test/);
});

test('a domain without MX gets its mail at its A record', async () => {
  await send('someone@nomx.test', 'to the A record');
  await eventually(async () => (await mx.messages()).some((m) => m.raw.includes('to the A record')), 15_000, 'delivery to the A record');
});

test('nonexistent domain and null MX bounce at once with one DSN each', async () => {
  const a = await send('x@does-not-exist.test', 'to nowhere');
  const b = await send('x@nullmx.test', 'to null mx');
  await eventually(async () => (await statusOf(a)).status === 'bounced' && (await statusOf(b)).status === 'bounced', 15_000, 'bounces');
  assert.match((await statusOf(a)).last_reply ?? '', /does not exist/);
  assert.match((await statusOf(b)).last_reply ?? '', /null MX/);
  const dsns = await eventually(async () => {
    const d = (await home.messages()).filter((m) => m.from === '');
    return d.length >= 2 ? d : null;
  }, 15_000, 'two DSNs to the sender');
  assert.equal(dsns.length, 2);
  assert.ok(dsns.every((d) => d.to[0] === 'user@home.test'));
  assert.ok(dsns.some((d) => /Status: 5\.1\.2/.test(d.raw.toString())));
  assert.ok(dsns.some((d) => /Status: 5\.1\.10/.test(d.raw.toString())));
});

test('a relay domain that requires TLS is not delivered in plain text: deferred, with the reason', async () => {
  const before = await home.count();
  const id = await send('boss@secure.test', 'needs tls');
  const row = await eventually(async () => {
    const r = await statusOf(id);
    return r.status === 'deferred' ? r : null;
  }, 15_000, 'deferral');
  assert.match(row.last_reply ?? '', /TLS|STARTTLS/i);
  assert.equal(await home.count(), before, 'nothing was sent without TLS');
});
