// Outbound transport security against real TLS peers (smtp-server with certificates from
// an openssl-made test CA): the TLS level per destination (may, encrypt, verify, none),
// MTA-STS (RFC 8461) with the policy served over HTTPS by a local server and the TXT
// record by the test DNS, and a smarthost that requires AUTH. Failures at a required
// level defer (4.7.5) with the reason in the trace; every delivery's TLS is in the trace.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttps, type Server as HttpsServer } from 'node:https';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, type TestGateway } from '../helpers/gateway.ts';
import { startApiGateway, type ApiGateway } from '../helpers/api.ts';
import { startTestDns, type TestDns } from '../helpers/dns-server.ts';
import { findFreePort } from '../helpers/peers.ts';
import { sendMessage, simpleMessage } from '../helpers/smtp-probe.ts';
import { messageEvents } from '../helpers/message-trace.ts';
import { TestCa } from '../helpers/test-ca.ts';
import { startTlsPeer, type TlsPeer } from '../helpers/tls-peer.ts';
import { addRelayNetwork } from '../../src/db/repos/relay-policy.ts';
import { setTlsPolicy } from '../../src/db/repos/tls-policies.ts';
import { setSetting } from '../../src/config/settings.ts';

let api: ApiGateway;
let gw: TestGateway;
let dns: TestDns;
let ca: TestCa;
let stranger: TestCa;
let sts: HttpsServer;
const peers: TlsPeer[] = [];
let good: TlsPeer;
let wrongName: TlsPeer;
let untrusted: TlsPeer;
let plain: TlsPeer;
let smarthost: TlsPeer;

/** The MTA-STS policy each domain serves (by Host: mta-sts.<domain>). */
const POLICIES: Record<string, string> = {
  'sts-good.test': 'version: STSv1\nmode: enforce\nmx: mx.good.test\nmax_age: 86400\n',
  'sts-badcert.test': 'version: STSv1\nmode: enforce\nmx: *.wrong.test\nmax_age: 86400\n',
  'sts-badmx.test': 'version: STSv1\nmode: enforce\nmx: mx.elsewhere.test\nmax_age: 86400\n',
  'sts-testing.test': 'version: STSv1\nmode: testing\nmx: mx.good.test\nmax_age: 86400\n',
};

before(async () => {
  ca = new TestCa('Hermes Outbound');
  stranger = new TestCa('Not Trusted');
  const caFile = join(ca.dir, 'trusted-roots.pem');
  writeFileSync(caFile, ca.root.certPem);
  const withChain = (leaf: { keyPem: string; certPem: string }, from = ca) => ({ key: leaf.keyPem, cert: leaf.certPem + from.intermediate.certPem });

  // Every MX peer listens on the same port (delivery.mxPort) on its own loopback address.
  const mxPort = await findFreePort();
  good = await startTlsPeer({ host: '127.0.0.11', port: mxPort, ...withChain(ca.leaf(['mx.good.test'])) });
  wrongName = await startTlsPeer({ host: '127.0.0.12', port: mxPort, ...withChain(ca.leaf(['someone-else.test'])) });
  untrusted = await startTlsPeer({ host: '127.0.0.13', port: mxPort, ...withChain(stranger.leaf(['mx.untrusted.test']), stranger) });
  plain = await startTlsPeer({ host: '127.0.0.14', port: mxPort });
  smarthost = await startTlsPeer({ host: '127.0.0.15', port: await findFreePort(), ...withChain(ca.leaf(['relay.isp.test'])), auth: { user: 'gw-user', pass: 's3cret pass!' } });
  peers.push(good, wrongName, untrusted, plain, smarthost);

  const stsCert = ca.leaf(Object.keys(POLICIES).map((d) => `mta-sts.${d}`));
  sts = createHttps({ key: stsCert.keyPem, cert: stsCert.certPem + ca.intermediate.certPem }, (req, res) => {
    const domain = String(req.headers.host ?? '').replace(/^mta-sts\./, '').replace(/:\d+$/, '');
    const body = POLICIES[domain];
    if (req.url !== '/.well-known/mta-sts.txt' || !body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
  });
  const stsPort = await findFreePort();
  await new Promise<void>((r) => sts.listen(stsPort, '127.0.0.1', r));

  const mx = (host: string) => ({ MX: [{ exchange: host, priority: 10 }] });
  dns = await startTestDns({
    'mx.good.test': { A: ['127.0.0.11'] },
    'mx.wrong.test': { A: ['127.0.0.12'] },
    'mx.untrusted.test': { A: ['127.0.0.13'] },
    'mx.plain.test': { A: ['127.0.0.14'] },
    'relay.isp.test': { A: ['127.0.0.15'] },
    'may.test': mx('mx.wrong.test'),
    'plain.test': mx('mx.plain.test'),
    'encrypt-plain.test': mx('mx.plain.test'),
    'encrypt-ok.test': mx('mx.untrusted.test'),
    'verify-good.test': mx('mx.good.test'),
    'verify-name.test': mx('mx.wrong.test'),
    'verify-chain.test': mx('mx.untrusted.test'),
    'none.test': mx('mx.good.test'),
    'sts-good.test': mx('mx.good.test'),
    'sts-badcert.test': mx('mx.wrong.test'),
    'sts-badmx.test': mx('mx.good.test'),
    'sts-testing.test': mx('mx.wrong.test'),
    ...Object.fromEntries(Object.keys(POLICIES).flatMap((d) => [[`_mta-sts.${d}`, { TXT: ['v=STSv1; id=20261202T1'] }], [`mta-sts.${d}`, { A: ['127.0.0.1'] }]])),
    'corp.test': mx('relay.isp.test'),
  });
  // The gateway starts now; the settings below apply to it live (as the CLI's would).
  api = await startApiGateway({ dnsServer: dns.server });
  gw = api.gw;
  await addRelayNetwork(gw.db, '127.0.0.0/8');
  await setSetting(gw.db, 'delivery.mxPort', mxPort);
  await setSetting(gw.db, 'delivery.retry', { minimalBackoffSec: 3600, maximalBackoffSec: 3600, queueLifetimeSec: 86400 });
  await setSetting(gw.db, 'delivery.tlsCaFile', caFile);
  await setSetting(gw.db, 'delivery.mtaStsPort', stsPort);
  await setTlsPolicy(gw.db, 'encrypt-plain.test', 'encrypt');
  await setTlsPolicy(gw.db, 'encrypt-ok.test', 'encrypt');
  await setTlsPolicy(gw.db, 'verify-good.test', 'verify');
  await setTlsPolicy(gw.db, 'verify-name.test', 'verify');
  await setTlsPolicy(gw.db, 'verify-chain.test', 'verify');
  await setTlsPolicy(gw.db, 'none.test', 'none');
});

after(async () => {
  await api?.cleanup();
  for (const p of peers) await p.close();
  await new Promise<void>((r) => (sts ? sts.close(() => r()) : r()));
  await dns?.close();
  ca?.close();
  stranger?.close();
});

async function send(to: string): Promise<{ id: string; marker: string }> {
  const marker = `m-${to.replace(/[^a-z0-9]/g, '-')}-${Date.now()}`;
  const r = await sendMessage(gw.port, { from: 'user@home.test', to: [to] }, simpleMessage({ from: 'user@home.test', to, subject: marker }));
  assert.ok(r.ok, r.response);
  return { id: /queued as ([0-9A-Z]+)/.exec(r.response)![1]!, marker };
}

/** The recipient's final or deferred state, with the event that recorded it. */
async function outcome(id: string) {
  return eventually(async () => {
    const r = await gw.db.selectFrom('recipients').selectAll().where('message_id', '=', id).executeTakeFirst();
    if (!r || r.status === 'queued') return null;
    const events = await messageEvents(gw, id);
    const last = events.find((e) => e.type === r.status);
    return last ? { status: r.status, reply: r.last_reply ?? '', detail: last.detail, events } : null;
  }, 30_000, `delivery outcome of ${id}`);
}

test('default (may): opportunistic STARTTLS, delivered to a certificate that does not name the host; the trace says TLS version, cipher and "not verified" with why', async () => {
  const { id, marker } = await send('a@may.test');
  const o = await outcome(id);
  assert.equal(o.status, 'delivered', JSON.stringify(o));
  assert.ok(wrongName.messages.some((m) => m.raw.includes(marker) && m.secure), 'the peer got it over TLS');
  assert.match(String(o.detail.tlsVersion), /^TLSv1\.[23]$/, JSON.stringify(o.detail));
  assert.ok(o.detail.tlsCipher, JSON.stringify(o.detail));
  assert.equal(o.detail.tlsVerified, false, JSON.stringify(o.detail));
  assert.match(String(o.detail.tlsVerifyError), /does not match|altnames/i, JSON.stringify(o.detail));
  assert.equal(o.detail.tlsLevel, 'may', JSON.stringify(o.detail));
});

test('default (may) to a server without STARTTLS: delivered in plain text, tls=false in the trace', async () => {
  const { id, marker } = await send('a@plain.test');
  const o = await outcome(id);
  assert.equal(o.status, 'delivered', JSON.stringify(o));
  assert.ok(plain.messages.some((m) => m.raw.includes(marker) && !m.secure), 'the peer got it in plain text');
  assert.equal(o.detail.tls, false, JSON.stringify(o.detail));
  assert.equal(o.detail.tlsVersion, null, JSON.stringify(o.detail));
});

test('encrypt: a server without STARTTLS is not sent the mail; it is deferred (4.7.5) with the reason', async () => {
  const { id, marker } = await send('a@encrypt-plain.test');
  const o = await outcome(id);
  assert.equal(o.status, 'deferred', JSON.stringify(o));
  assert.match(o.reply, /TLS is required.*tls-policy encrypt-plain\.test/, o.reply);
  assert.equal(o.detail.status, '4.7.5', JSON.stringify(o.detail));
  assert.ok(!plain.messages.some((m) => m.raw.includes(marker)), 'nothing reached the peer');
});

test('encrypt: any certificate will do (untrusted CA): delivered over TLS, not verified', async () => {
  const { id, marker } = await send('a@encrypt-ok.test');
  const o = await outcome(id);
  assert.equal(o.status, 'delivered', JSON.stringify(o));
  assert.ok(untrusted.messages.some((m) => m.raw.includes(marker) && m.secure), 'delivered over TLS');
  assert.equal(o.detail.tlsVerified, false, JSON.stringify(o.detail));
  assert.equal(o.detail.tlsLevel, 'encrypt', JSON.stringify(o.detail));
});

test('verify: a certificate from the admin\'s CA (delivery.tlsCaFile) naming the MX host: delivered, verified', async () => {
  const { id, marker } = await send('a@verify-good.test');
  const o = await outcome(id);
  assert.equal(o.status, 'delivered', JSON.stringify(o));
  assert.ok(good.messages.some((m) => m.raw.includes(marker)), 'delivered');
  assert.equal(o.detail.tlsVerified, true, JSON.stringify(o.detail));
  assert.equal(o.detail.tlsLevel, 'verify', JSON.stringify(o.detail));
});

test('verify: wrong name and untrusted chain are deferred (4.7.5), the reason names the problem', async () => {
  const a = await send('a@verify-name.test');
  const b = await send('a@verify-chain.test');
  const oa = await outcome(a.id);
  const ob = await outcome(b.id);
  assert.equal(oa.status, 'deferred', JSON.stringify(oa));
  assert.match(oa.reply, /not valid for mx\.wrong\.test.*does not match/i, oa.reply);
  assert.equal(ob.status, 'deferred', JSON.stringify(ob));
  assert.match(ob.reply, /not valid for mx\.untrusted\.test.*(UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY|SELF_SIGNED)/i, ob.reply);
  assert.equal(ob.detail.status, '4.7.5', JSON.stringify(ob.detail));
  assert.ok(!wrongName.messages.some((m) => m.raw.includes(a.marker)) && !untrusted.messages.some((m) => m.raw.includes(b.marker)), 'nothing sent');
});

test('none: no STARTTLS even where offered', async () => {
  const { id, marker } = await send('a@none.test');
  const o = await outcome(id);
  assert.equal(o.status, 'delivered', JSON.stringify(o));
  assert.ok(good.messages.some((m) => m.raw.includes(marker) && !m.secure), 'sent in plain text');
});

test('MTA-STS enforce: the listed MX with a valid certificate gets the mail, verified; the policy is cached with its max_age', async () => {
  const { id, marker } = await send('a@sts-good.test');
  const o = await outcome(id);
  assert.equal(o.status, 'delivered', JSON.stringify(o));
  assert.ok(good.messages.some((m) => m.raw.includes(marker)), 'delivered');
  assert.equal(o.detail.tlsVerified, true, JSON.stringify(o.detail));
  assert.match(String(o.detail.tlsPolicy), /MTA-STS enforce/, JSON.stringify(o.detail));
  const cached = await gw.db.selectFrom('mta_sts_policies').selectAll().where('domain', '=', 'sts-good.test').executeTakeFirstOrThrow();
  assert.equal(cached.mode, 'enforce', JSON.stringify(cached));
  assert.equal(Number(cached.max_age), 86400, JSON.stringify(cached));
  assert.ok(Number(cached.expires_at) - Number(cached.fetched_at) === 86_400_000, JSON.stringify(cached));
});

test('MTA-STS enforce: a listed MX whose certificate does not name it is refused; the mail is deferred, not sent', async () => {
  const { id, marker } = await send('a@sts-badcert.test');
  const o = await outcome(id);
  assert.equal(o.status, 'deferred', JSON.stringify(o));
  assert.match(o.reply, /not valid for mx\.wrong\.test.*MTA-STS enforce/i, o.reply);
  assert.equal(o.detail.status, '4.7.5', JSON.stringify(o.detail));
  assert.ok(!wrongName.messages.some((m) => m.raw.includes(marker)), 'nothing sent to the peer with the wrong certificate');
});

test('MTA-STS enforce: an MX not in the policy is skipped; with none left the mail is deferred', async () => {
  const { id, marker } = await send('a@sts-badmx.test');
  const o = await outcome(id);
  assert.equal(o.status, 'deferred', JSON.stringify(o));
  assert.match(o.reply, /MTA-STS policy/, o.reply);
  assert.ok(o.events.some((e) => e.type === 'mta-sts' && /skipped: not listed/.test(String(e.detail.result))), JSON.stringify(o.events));
  assert.ok(!good.messages.some((m) => m.raw.includes(marker)), 'not sent to the unlisted MX');
});

test('MTA-STS testing: delivered anyway, the trace reports what enforce would have refused', async () => {
  const { id, marker } = await send('a@sts-testing.test');
  const o = await outcome(id);
  assert.equal(o.status, 'delivered', JSON.stringify(o));
  assert.ok(wrongName.messages.some((m) => m.raw.includes(marker)), 'delivered');
  const reports = o.events.filter((e) => e.type === 'mta-sts').map((e) => String(e.detail.result));
  assert.ok(reports.some((r) => /would be skipped in enforce mode/.test(r)), JSON.stringify(reports));
  assert.ok(reports.some((r) => /would be refused in enforce mode: certificate not valid/.test(r)), JSON.stringify(reports));
});

test('smarthost with a login: AUTH after STARTTLS as the stored user; the password is sealed in the database, not readable', async () => {
  const pwFile = join(ca.dir, 'smarthost-password');
  writeFileSync(pwFile, 's3cret pass!\n');
  const set = await gw.cli(['smarthost', 'set', `relay.isp.test:${smarthost.port}`, '--user', 'gw-user', '--password-file', pwFile]);
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stdout, /login gw-user, STARTTLS/, set.stdout);
  const row = await gw.db.selectFrom('smarthost_credentials').selectAll().executeTakeFirstOrThrow();
  assert.equal(row.username, 'gw-user');
  assert.ok(!row.password_sealed.includes('s3cret') && !Buffer.from(row.password_sealed, 'base64').toString('latin1').includes('s3cret'), 'password not in clear');
  // The database files hold no clear copy either (SQLite: hermes.db and its WAL in the data directory).
  for (const f of readdirSync(gw.dataDir).filter((n) => /\.db(-wal)?$/.test(n))) {
    assert.ok(!readFileSync(join(gw.dataDir, f)).includes('s3cret pass!'), `password in clear in ${f}`);
  }
  const { id, marker } = await send('a@corp.test');
  const o = await outcome(id);
  assert.equal(o.status, 'delivered', JSON.stringify(o));
  const m = smarthost.messages.find((x) => x.raw.includes(marker));
  assert.ok(m, 'the smarthost got the mail');
  assert.equal(m.user, 'gw-user', 'logged in as the stored user');
  assert.ok(m.secure, 'over TLS');
  assert.ok(smarthost.logins.every((l) => l.secure), 'AUTH only after TLS');
  assert.equal(o.detail.tlsLevel, 'encrypt', JSON.stringify(o.detail));
});

test('smarthost with a wrong password: deferred with the server\'s refusal, never bounced', async () => {
  const pwFile = join(ca.dir, 'wrong-password');
  writeFileSync(pwFile, 'not it\n');
  const set = await gw.cli(['smarthost', 'set', `relay.isp.test:${smarthost.port}`, '--user', 'gw-user', '--password-file', pwFile]);
  assert.equal(set.code, 0, set.stderr);
  const { id } = await send('b@corp.test');
  const o = await outcome(id);
  assert.equal(o.status, 'deferred', JSON.stringify(o));
  assert.match(o.reply, /refused the login of "gw-user".*535/, o.reply);
});

test('API: PUT /api/v1/smarthost with a login stores it sealed; GET shows the user and TLS mode, never the password; mail then goes out authenticated', async () => {
  const denied = await api.as('auditor').put('/api/v1/smarthost', { host: `relay.isp.test:${smarthost.port}`, login: { user: 'gw-user', password: 'x' } });
  assert.equal(denied.status, 403, denied.text);
  const put = await api.as('admin').put('/api/v1/smarthost', { host: `relay.isp.test:${smarthost.port}`, login: { user: 'gw-user', password: 's3cret pass!', tls: 'starttls' } });
  assert.equal(put.status, 200, put.text);
  assert.deepEqual(put.json, { host: `relay.isp.test:${smarthost.port}`, user: 'gw-user', tls: 'starttls' }, put.text);
  const get = await api.as('auditor').get('/api/v1/smarthost');
  assert.equal(get.status, 200, get.text);
  assert.ok(!get.text.includes('s3cret'), get.text);
  const audit = await gw.db.selectFrom('audit_log').select(['action', 'after_json']).where('action', '=', 'smarthost.login').execute();
  assert.ok(audit.length >= 1 && audit.every((a) => !String(a.after_json).includes('s3cret')), JSON.stringify(audit));
  const { id, marker } = await send('c@corp.test');
  const o = await outcome(id);
  assert.equal(o.status, 'delivered', JSON.stringify(o));
  assert.equal(smarthost.messages.find((m) => m.raw.includes(marker))?.user, 'gw-user', 'authenticated with the password set through the API');
  const bad = await api.as('admin').put('/api/v1/smarthost', { host: `relay.isp.test:${smarthost.port}`, login: { user: 'gw-user', password: 'x', tls: 'plaintext' } });
  assert.equal(bad.status, 400, bad.text);
});

test('API: TLS policies (PUT/GET/DELETE /api/v1/tls-policies), "dane" refused with the reason', async () => {
  const put = await api.as('admin').put('/api/v1/tls-policies/.partner.test', { level: 'verify' });
  assert.equal(put.status, 200, put.text);
  const list = await api.as('auditor').get('/api/v1/tls-policies');
  assert.ok((list.json as Array<{ destination: string; level: string }>).some((p) => p.destination === '.partner.test' && p.level === 'verify'), list.text);
  const dane = await api.as('admin').put('/api/v1/tls-policies/partner.test', { level: 'dane' });
  assert.equal(dane.status, 400, dane.text);
  assert.match(dane.text, /DNSSEC-validating resolver/, dane.text);
  const del = await api.as('admin').delete('/api/v1/tls-policies/.partner.test');
  assert.equal(del.status, 200, del.text);
  const sts = await api.as('auditor').get('/api/v1/mta-sts');
  assert.ok((sts.json as Array<{ domain: string; mode: string }>).some((p) => p.domain === 'sts-good.test' && p.mode === 'enforce'), sts.text);
});
