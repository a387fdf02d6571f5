// `hermes doctor` against a local DNS server: one domain published correctly, one broken,
// each reported as it is; next hops probed over real SMTP (smtp-sink) and a closed port.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startTestDns, type TestDns } from '../helpers/dns-server.ts';
import { findFreePort, startSmtpSink, type SmtpSink } from '../helpers/peers.ts';
import { upsertRelayDomain } from '../../src/db/repos/relay-policy.ts';
import { listDkimKeys } from '../../src/db/repos/dkim-keys.ts';
import type { Finding } from '../../src/ops/doctor/index.ts';

let gw: TestGateway;
let dns: TestDns;
let sink: SmtpSink;
let closedPort: number;

before(async () => {
  dns = await startTestDns({
    'mx.gateway.test': { A: ['127.0.0.1'] },
    '1.0.0.127.in-addr.arpa': { PTR: ['mx.gateway.test'] },
    'good.test': { MX: [{ exchange: 'mx.gateway.test', priority: 10 }], TXT: ['v=spf1 mx -all'] },
    '_dmarc.good.test': { TXT: ['v=DMARC1; p=reject; rua=mailto:dmarc@good.test'] },
    // broken.test: MX elsewhere, two SPF records, no DMARC, a stale DKIM key
    'broken.test': { MX: [{ exchange: 'mail.elsewhere.test', priority: 10 }], TXT: ['v=spf1 -all', 'v=spf1 mx -all'] },
  });
  sink = await startSmtpSink();
  closedPort = await findFreePort();
  gw = await createTestGateway({ dnsServer: dns.server });
  await upsertRelayDomain(gw.db, { domain: 'good.test', nextHop: `127.0.0.1:${sink.port}` });
  await upsertRelayDomain(gw.db, { domain: 'broken.test', nextHop: `127.0.0.1:${closedPort}` });
  for (const d of ['good.test', 'broken.test']) {
    const r = await gw.cli(['dkim', 'generate', d, '--selector', 's1']);
    assert.equal(r.code, 0, r.stderr);
  }
  const keys = await listDkimKeys(gw.db);
  const good = keys.find((k) => k.domain === 'good.test')!;
  const broken = keys.find((k) => k.domain === 'broken.test')!;
  dns.set('s1._domainkey.good.test', { TXT: [good.dns_txt] });
  // broken.test publishes good.test's key: a key, but not the one it signs with
  dns.set('s1._domainkey.broken.test', { TXT: [good.dns_txt] });
  assert.notEqual(good.dns_txt, broken.dns_txt);
});

after(async () => {
  await gw?.cleanup();
  await sink?.stop();
  await dns?.close();
});

const pick = (fs: Finding[], check: string, subject: string) => {
  const f = fs.filter((x) => x.check === check && x.subject === subject);
  assert.equal(f.length, 1, `one ${check} finding for ${subject}: ${JSON.stringify(fs.filter((x) => x.check === check))}`);
  return f[0]!;
};

test('doctor --json: the correct domain is ok throughout, the broken one fails with fixes, exit code 1', async () => {
  const r = await gw.cli(['doctor', '--json', '--timeout', '3000']);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const out = JSON.parse(r.stdout) as { ok: boolean; findings: Finding[] };
  assert.equal(out.ok, false);
  const fs = out.findings;

  assert.equal(pick(fs, 'dns', dns.server).status, 'ok');
  for (const check of ['mx', 'spf', 'dmarc']) assert.equal(pick(fs, check, 'good.test').status, 'ok', check);
  assert.equal(pick(fs, 'dkim', 's1._domainkey.good.test').status, 'ok');
  assert.equal(pick(fs, 'next-hop', `127.0.0.1:${sink.port}`).status, 'ok');
  assert.equal(pick(fs, 'reverse-dns', '127.0.0.1').status, 'ok');

  const mx = pick(fs, 'mx', 'broken.test');
  assert.equal(mx.status, 'warn');
  assert.match(mx.message, /mail\.elsewhere\.test/);
  assert.match(mx.fix!, /MX 10 mx\.gateway\.test/);
  const spf = pick(fs, 'spf', 'broken.test');
  assert.equal(spf.status, 'fail');
  assert.match(spf.message, /2 SPF records/);
  const dkim = pick(fs, 'dkim', 's1._domainkey.broken.test');
  assert.equal(dkim.status, 'fail');
  assert.match(dkim.message, /not the key this gateway signs with/);
  assert.equal(pick(fs, 'dmarc', 'broken.test').status, 'warn');
  const hop = pick(fs, 'next-hop', `127.0.0.1:${closedPort}`);
  assert.equal(hop.status, 'fail');
  assert.match(hop.message, /broken\.test/);

  // the bootstrap certificate is flagged, not failed; an empty queue is ok; the spool disk is inspected
  const tls = fs.filter((f) => f.check === 'tls');
  assert.ok(tls.some((f) => f.status === 'warn' && /self-signed/.test(f.message)), JSON.stringify(tls));
  assert.equal(fs.find((f) => f.check === 'queue')!.status, 'ok');
  assert.ok(fs.some((f) => f.check === 'disk'));
  assert.ok(fs.some((f) => f.check === 'clock'));
  // a fresh install: Bayes has learned nothing; the doctor says how far it is and how to train it
  const bayes = pick(fs, 'bayes', '');
  assert.equal(bayes.status, 'warn');
  assert.match(bayes.message, /not scoring yet, 200 spam and 200 ham to go/);
  assert.match(bayes.fix!, /hermes bayes learn --spam PATH/);
  assert.ok(fs.filter((f) => f.status === 'fail').every((f) => f.fix), 'every failure says how to fix it');
});

test('doctor (text): ok/WARN/FAIL lines with the fix in words', async () => {
  const r = await gw.cli(['doctor', '--timeout', '3000']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^ok +mx good\.test: MX 10 mx\.gateway\.test$/m);
  assert.match(r.stdout, /^FAIL +dkim s1\._domainkey\.broken\.test: .*\n {6}fix: Publish at s1\._domainkey\.broken\.test the TXT record "v=DKIM1;/m);
  assert.match(r.stdout, /\d+ ok, \d+ warnings, \d+ failures/);
});

test('doctor exits 0 when nothing fails', async () => {
  await gw.cli(['domain', 'remove', 'broken.test']);
  const r = await gw.cli(['doctor', '--json', '--timeout', '3000']);
  const out = JSON.parse(r.stdout) as { ok: boolean; findings: Finding[] };
  assert.equal(out.ok, true, JSON.stringify(out.findings.filter((f) => f.status === 'fail')));
  assert.equal(r.code, 0);
});
