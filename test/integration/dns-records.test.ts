// `hermes dns records`: the records it prints, published as printed, satisfy `hermes doctor`.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startTestDns, type TestDns } from '../helpers/dns-server.ts';
import { upsertRelayDomain } from '../../src/db/repos/relay-policy.ts';
import { listDkimKeys } from '../../src/db/repos/dkim-keys.ts';
import { reverseName, type DomainRecords } from '../../src/ops/dns-records.ts';
import type { Finding } from '../../src/ops/doctor/index.ts';

let gw: TestGateway;
let dns: TestDns;

before(async () => {
  dns = await startTestDns({ 'mx.gateway.test': { A: ['127.0.0.1'] } });
  gw = await createTestGateway({ dnsServer: dns.server });
  await upsertRelayDomain(gw.db, { domain: 'example.test', nextHop: null });
  assert.equal((await gw.cli(['dkim', 'generate', 'example.test', '--selector', 'k1'])).code, 0);
  assert.equal((await gw.cli(['dkim', 'generate', 'example.test', '--selector', 'k2', '--algorithm', 'ed25519'])).code, 0);
});

after(async () => {
  await gw?.cleanup();
  await dns?.close();
});

test('dns records --json: MX, A, PTR, SPF, one DKIM TXT per key, DMARC, MTA-STS and TLS-RPT', async () => {
  const r = await gw.cli(['dns', 'records', 'example.test', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as DomainRecords;
  const find = (type: string, name: string) => out.records.filter((x) => x.type === type && x.name === name).map((x) => x.value);
  assert.deepEqual(find('MX', 'example.test.'), ['10 mx.gateway.test.']);
  assert.deepEqual(find('A', 'mx.gateway.test.'), ['127.0.0.1'], 'the address the host name resolves to');
  assert.deepEqual(find('PTR', '1.0.0.127.in-addr.arpa.'), ['mx.gateway.test.']);
  assert.deepEqual(find('TXT', 'example.test.'), ['v=spf1 mx a:mx.gateway.test -all']);
  const keys = await listDkimKeys(gw.db, 'example.test');
  for (const k of keys) assert.deepEqual(find('TXT', `${k.selector}._domainkey.example.test.`), [k.dns_txt]);
  assert.match(find('TXT', '_dmarc.example.test.')[0]!, /^v=DMARC1; p=none; rua=mailto:postmaster@example\.test$/);
  assert.match(find('TXT', '_mta-sts.example.test.')[0]!, /^v=STSv1; id=[0-9a-f]{16}$/);
  assert.equal(out.mtaStsPolicy.url, 'https://mta-sts.example.test/.well-known/mta-sts.txt');
  assert.equal(out.mtaStsPolicy.text, 'version: STSv1\r\nmode: testing\r\nmx: mx.gateway.test\r\nmax_age: 604800\r\n');

  // Published as printed, the doctor finds MX, SPF, DKIM, DMARC and reverse DNS in order.
  dns.set('example.test', { MX: [{ exchange: 'mx.gateway.test', priority: 10 }], TXT: find('TXT', 'example.test.') });
  for (const k of keys) dns.set(`${k.selector}._domainkey.example.test`, { TXT: [k.dns_txt] });
  dns.set('_dmarc.example.test', { TXT: find('TXT', '_dmarc.example.test.') });
  dns.set(reverseName('127.0.0.1'), { PTR: ['mx.gateway.test'] });
  const doc = JSON.parse((await gw.cli(['doctor', '--json', '--timeout', '3000'])).stdout) as { findings: Finding[] };
  const bad = doc.findings.filter((f) => ['mx', 'spf', 'dkim', 'dmarc', 'reverse-dns'].includes(f.check) && f.status !== 'ok');
  assert.deepEqual(bad, []);
});

test('dns records (zone text): long DKIM values split into quoted 255-byte strings; unknown domain is an error', async () => {
  const r = await gw.cli(['dns', 'records', 'example.test', '--ipv4', '192.0.2.7', '--ipv6', '2001:db8::7', '--mta-sts', 'enforce']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^mx\.gateway\.test\.\tIN\tA\t192\.0\.2\.7$/m);
  assert.match(r.stdout, /^mx\.gateway\.test\.\tIN\tAAAA\t2001:db8::7$/m);
  assert.match(r.stdout, /^7(\.0){23}\.8\.b\.d\.0\.1\.0\.0\.2\.ip6\.arpa\.\tIN\tPTR\tmx\.gateway\.test\.$/m);
  assert.match(r.stdout, /^k1\._domainkey\.example\.test\.\tIN\tTXT\t\( "v=DKIM1; k=rsa; p=[^"]{200,}" "[^"]+" \)$/m);
  assert.match(r.stdout, /^mode: enforce$/m);
  const bad = await gw.cli(['dns', 'records', 'other.test']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /other\.test is not a relay domain/);
});
