// The certificate store's service: imports (PEM with chain, PKCS#12, the signed
// certificate of our own CSR) and the refusals that matter (wrong key, expired, missing
// chain, names not covered), each with a clear error and nothing changed; CSRs with the
// SANs asked for; roles; no private key in any answer or audit entry (REST included).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { openDatabase, type Db } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { ensureMasterKey, loadMasterKey, type MasterKey } from '../../src/keys/master-key.ts';
import { cliActor, type Actor } from '../../src/services/actor.ts';
import { createCsr, importCertificate, listCertificates, removeCertificate, setDefault, suggestedNames } from '../../src/services/certificate-service.ts';
import { upsertRelayDomain } from '../../src/db/repos/relay-policy.ts';
import { buildHttpServer } from '../../src/http/server.ts';
import type { HttpContext } from '../../src/http/context.ts';
import type { LoadedConfig } from '../../src/config/bootstrap.ts';
import { loadSettings } from '../../src/config/settings.ts';
import { createToken } from '../../src/services/token-service.ts';
import { TestCa } from '../helpers/test-ca.ts';

let dir: string;
let db: Db;
let mk: MasterKey;
let ca: TestCa;
const admin = cliActor();
const auditor: Actor = { kind: 'user', id: 'a', name: 'auditor', role: 'auditor', domains: null };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hermes-certsvc-'));
  db = openDatabase(join(dir, 'hermes.db'));
  await migrate(db);
  ensureMasterKey(join(dir, 'master.key'));
  mk = loadMasterKey(join(dir, 'master.key'));
  ca = new TestCa();
});

after(async () => {
  await db?.destroy();
  ca?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function auditText(): Promise<string> {
  return (await db.selectFrom('audit_log').select(['action', 'before_json', 'after_json']).execute()).map((r) => `${r.action} ${r.before_json} ${r.after_json}`).join('\n');
}

async function refused(input: Parameters<typeof importCertificate>[3], message: RegExp, field: string) {
  const before = JSON.stringify(await listCertificates(db, admin));
  const auditBefore = await auditText();
  await assert.rejects(importCertificate(db, admin, mk, input), (err: Error & { code?: string; details?: Record<string, string> }) => {
    assert.equal(err.code, 'invalid', `a refused import is invalid input: ${err.message}`);
    assert.match(err.message, message);
    assert.ok(err.details?.[field], `the error names the field ${field}: ${JSON.stringify(err.details)}`);
    return true;
  });
  assert.equal(JSON.stringify(await listCertificates(db, admin)), before, 'a refused import changes nothing');
  assert.equal(await auditText(), auditBefore, 'and writes no audit entry');
}

test('a PEM certificate with its chain and key is imported; the root is not served; no key comes back', async () => {
  const leaf = ca.leaf(['mail.one.test', 'autoconfig.one.test']);
  const v = await importCertificate(db, admin, mk, { pem: ca.chain(leaf) + leaf.keyPem, names: ['mail.one.test'] });
  assert.equal(v.status, 'active');
  assert.deepEqual(v.names, ['mail.one.test', 'autoconfig.one.test']);
  assert.equal(v.chainLength, 2, 'leaf and intermediate (the self-signed root is left out)');
  assert.match(v.issuer ?? '', /Intermediate/);
  assert.doesNotMatch(JSON.stringify(v), /PRIVATE KEY/, 'no key in the answer');
  assert.doesNotMatch(await auditText(), /PRIVATE KEY/, 'no key in the audit log');
  assert.match(await auditText(), /certificate\.import/);
  const row = await db.selectFrom('certificates').selectAll().where('id', '=', v.id).executeTakeFirstOrThrow();
  assert.doesNotMatch(row.key_sealed, /PRIVATE KEY/, 'the key is sealed at rest');
});

test('a PKCS#12 file with its passphrase is imported', async () => {
  const leaf = ca.leaf(['p12.one.test']);
  const d = mkdtempSync(join(tmpdir(), 'hermes-p12-'));
  try {
    writeFileSync(join(d, 'k.pem'), leaf.keyPem);
    writeFileSync(join(d, 'c.pem'), leaf.certPem);
    writeFileSync(join(d, 'chain.pem'), ca.intermediate.certPem + ca.root.certPem);
    execFileSync('openssl', ['pkcs12', '-export', '-inkey', 'k.pem', '-in', 'c.pem', '-certfile', 'chain.pem', '-out', 'x.p12', '-passout', 'pass:s3cret'], { cwd: d, stdio: 'ignore' });
    const p12 = readFileSync(join(d, 'x.p12'));
    await refused({ pkcs12: p12, passphrase: 'wrong' }, /wrong passphrase/, 'pkcs12');
    const v = await importCertificate(db, admin, mk, { pkcs12: p12, passphrase: 's3cret' });
    assert.deepEqual(v.names, ['p12.one.test']);
    assert.equal(v.chainLength, 2);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('bad imports are refused with a clear error and change nothing', async () => {
  const good = ca.leaf(['bad.one.test']);
  const other = ca.leaf(['other.one.test']);
  await refused({ pem: ca.chain(good) + other.keyPem }, /private key does not match the certificate "CN=bad\.one\.test"/, 'key');
  const expired = ca.leaf(['old.one.test'], { fromDays: -100, toDays: -2 });
  await refused({ pem: ca.chain(expired) + expired.keyPem }, /"CN=old\.one\.test" expired on/, 'certificate');
  await refused({ pem: good.certPem + good.keyPem }, /chain is incomplete: the issuer "CN=Hermes Test Intermediate" of "CN=bad\.one\.test" is neither in the file nor a root this system trusts/, 'chain');
  await refused({ pem: ca.chain(good) + good.keyPem, names: ['bad.one.test', 'www.one.test'] }, /does not cover www\.one\.test \(it covers bad\.one\.test\)/, 'names');
  await refused({ pem: 'hello' }, /no certificate found/, 'certificate');
  await refused({ pem: ca.chain(good) }, /no private key given, and the certificate belongs to no pending CSR/, 'key');
});

test('a CSR carries the SANs asked for; the signed certificate completes it without a key', async () => {
  await upsertRelayDomain(db, { domain: 'one.test' });
  const names = await suggestedNames(db, admin, 'mx.gateway.test');
  assert.deepEqual(names, ['mx.gateway.test', 'autoconfig.one.test', 'autodiscover.one.test'], 'host name plus autoconfig/autodiscover of each relay domain');
  const pending = await createCsr(db, admin, mk, { names });
  assert.equal(pending.status, 'pending');
  assert.doesNotMatch(JSON.stringify(pending), /PRIVATE KEY/);
  const text = execFileSync('openssl', ['req', '-noout', '-text', '-verify'], { input: pending.csr!, stdio: ['pipe', 'pipe', 'pipe'] }).toString();
  assert.match(text, /DNS:mx\.gateway\.test, DNS:autoconfig\.one\.test, DNS:autodiscover\.one\.test/, 'openssl reads the SANs from the CSR');
  await assert.rejects(setDefault(db, admin, pending.id), /still waiting/);
  const signed = ca.signCsr(pending.csr!, names);
  const done = await importCertificate(db, admin, mk, { pem: signed + ca.intermediate.certPem + ca.root.certPem, isDefault: true });
  assert.equal(done.id, pending.id, 'the pending CSR row is completed');
  assert.equal(done.status, 'active');
  assert.equal(done.source, 'csr');
  assert.equal(done.isDefault, true);
  assert.equal(done.csr, null, 'the CSR is no longer shown');
});

test('roles: an auditor reads, only an administrator changes', async () => {
  assert.ok((await listCertificates(db, auditor)).length > 0, 'auditor lists');
  await assert.rejects(createCsr(db, auditor, mk, { names: ['x.one.test'] }), { code: 'forbidden' });
  const id = (await listCertificates(db, admin))[0]!.id;
  await assert.rejects(removeCertificate(db, auditor, id), { code: 'forbidden' });
});

test('REST /api/v1/certificates: list without keys, import refusals as 400, roles', async () => {
  const ctx: HttpContext = {
    db,
    config: { hostname: 'mx.gateway.test', dnsServers: [], acme: { http: null, caFile: null, renewCheckSeconds: 3600 } } as unknown as LoadedConfig,
    log: pino({ level: 'silent' }),
    masterKey: () => mk,
    settings: () => loadSettings(db),
    gateway: null,
    smtpListening: () => true,
  };
  const leaf = ca.leaf(['api.one.test']);
  writeFileSync(join(dir, 'k.pem'), leaf.keyPem);
  writeFileSync(join(dir, 'c.pem'), leaf.certPem);
  const app: FastifyInstance = await buildHttpServer({ ctx, tls: { key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) }, consoleDir: dir });
  try {
    await app.ready();
    const adminToken = (await createToken(db, admin, { name: 'certs-admin', role: 'admin' })).token;
    const auditorToken = (await createToken(db, admin, { name: 'certs-auditor', role: 'auditor' })).token;
    const call = (token: string, method: string, url: string, body?: unknown) =>
      app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { payload: JSON.stringify(body) } : {}) });
    const list = await call(auditorToken, 'GET', '/api/v1/certificates');
    assert.equal(list.statusCode, 200);
    assert.ok(JSON.parse(list.body).items.length >= 3, 'the stored certificates');
    assert.doesNotMatch(list.body, /PRIVATE KEY/, 'no key in the list');
    const bad = await call(adminToken, 'POST', '/api/v1/certificates', { pem: leaf.certPem + leaf.keyPem });
    assert.equal(bad.statusCode, 400, bad.body);
    assert.match(JSON.parse(bad.body).message ?? bad.body, /chain is incomplete/);
    const ok = await call(adminToken, 'POST', '/api/v1/certificates', { pem: ca.chain(leaf), privateKey: leaf.keyPem });
    assert.equal(ok.statusCode, 201, ok.body);
    assert.doesNotMatch(ok.body, /PRIVATE KEY/);
    const forbidden = await call(auditorToken, 'POST', '/api/v1/certificates/csr', { names: ['x.one.test'] });
    assert.equal(forbidden.statusCode, 403);
    const csr = await call(adminToken, 'POST', '/api/v1/certificates/csr', { names: ['csr.one.test'] });
    assert.equal(csr.statusCode, 201, csr.body);
    assert.match(JSON.parse(csr.body).csr, /BEGIN CERTIFICATE REQUEST/);
    const del = await call(adminToken, 'DELETE', `/api/v1/certificates/${JSON.parse(csr.body).id}`);
    assert.equal(del.statusCode, 200);
    assert.doesNotMatch(await auditText(), /PRIVATE KEY/, 'no key in any audit entry');
  } finally {
    await app.close();
  }
});
