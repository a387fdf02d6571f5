// The submission account routes (/api/v1/users/:id/app-passwords, /sender-addresses)
// through the real HTTPS server in process: an administrator manages anyone's app
// passwords and assigns addresses; a signed-in user manages their own app passwords
// only and may not give themselves an address; secrets appear once and never in the
// audit log; a created app password signs in on submission and a revoked one does not.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { openDatabase, type Db } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { buildHttpServer } from '../../src/http/server.ts';
import type { HttpContext } from '../../src/http/context.ts';
import { ensureMasterKey, loadMasterKey } from '../../src/keys/master-key.ts';
import { loadSettings } from '../../src/config/settings.ts';
import type { LoadedConfig } from '../../src/config/bootstrap.ts';
import { cliActor } from '../../src/services/actor.ts';
import { createToken } from '../../src/services/token-service.ts';
import { createUser } from '../../src/services/user-service.ts';
import { authenticateSubmission } from '../../src/services/submission-auth.ts';
import { mayUseAddress } from '../../src/services/sender-address-service.ts';

let dir: string;
let db: Db;
let app: FastifyInstance;
let adminToken: string;
let userCookie: { cookie: string; csrf: string };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hermes-api-submission-'));
  db = openDatabase(join(dir, 'hermes.db'));
  await migrate(db);
  ensureMasterKey(join(dir, 'master.key'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')], { stdio: 'ignore' });
  const ctx: HttpContext = {
    db,
    config: { dnsServers: ['127.0.0.1:9'] } as unknown as LoadedConfig,
    log: pino({ level: 'silent' }),
    masterKey: () => loadMasterKey(join(dir, 'master.key')),
    settings: () => loadSettings(db),
    gateway: null,
    smtpListening: () => true,
  };
  app = await buildHttpServer({ ctx, tls: { key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) }, consoleDir: dir });
  await app.ready();
  adminToken = (await createToken(db, cliActor(), { name: 'admin', role: 'admin' })).token;
  await createUser(db, cliActor(), { username: 'carol@corp.test', role: 'helpdesk', password: 'carol has a long password' });
  await createUser(db, cliActor(), { username: 'dave@corp.test', role: 'auditor', password: 'dave has a long password' });
  const login = await app.inject({ method: 'POST', url: '/api/v1/session', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ username: 'carol@corp.test', password: 'carol has a long password' }) });
  assert.equal(login.statusCode, 200, login.body);
  const cookie = [login.headers['set-cookie']].flat().map((c) => String(c).split(';', 1)[0]!).find((c) => c.startsWith('__Host-hermes_session='));
  assert.ok(cookie, `session cookie: ${JSON.stringify(login.headers)}`);
  userCookie = { cookie, csrf: (JSON.parse(login.body) as { csrfToken: string }).csrfToken };
});

after(async () => {
  await app?.close();
  await db?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

async function call(who: 'admin' | 'carol', method: string, url: string, body?: unknown) {
  const auth = who === 'admin' ? { authorization: `Bearer ${adminToken}` } : { cookie: userCookie.cookie, 'x-csrf-token': userCookie.csrf };
  const r = await app.inject({ method: method as 'GET', url, headers: { ...auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { payload: JSON.stringify(body) } : {}) });
  return { status: r.statusCode, json: r.body ? JSON.parse(r.body) : undefined, text: r.body };
}

test('a user creates, lists and revokes their own app passwords; the secret is answered once and signs in on submission', async () => {
  const made = await call('carol', 'POST', '/api/v1/users/carol@corp.test/app-passwords', { name: 'phone' });
  assert.equal(made.status, 201, made.text);
  const secret = made.json.password as string;
  assert.match(secret, /^[A-Za-z0-9]{24}$/);
  const list = await call('carol', 'GET', '/api/v1/users/carol@corp.test/app-passwords');
  assert.equal(list.status, 200, list.text);
  assert.deepEqual(list.json.items.map((p: { name: string }) => p.name), ['phone']);
  assert.ok(!list.text.includes(secret), 'the secret is never listed');
  const dup = await call('carol', 'POST', '/api/v1/users/carol@corp.test/app-passwords', { name: 'Phone' });
  assert.equal(dup.status, 409, dup.text);
  const signedIn = await authenticateSubmission(db, 'carol@corp.test', secret, '192.0.2.7');
  assert.ok(signedIn.ok, JSON.stringify(signedIn));
  assert.equal(signedIn.ok && signedIn.user.via, 'app password "phone"');
  assert.equal((await call('carol', 'DELETE', `/api/v1/users/carol@corp.test/app-passwords/${made.json.appPassword.id}`)).status, 200);
  const after = await authenticateSubmission(db, 'carol@corp.test', secret, '192.0.2.7');
  assert.equal(after.ok, false, 'a revoked app password does not sign in');
  const audit = await db.selectFrom('audit_log').select(['action', 'after_json', 'before_json']).where('action', 'like', 'app-password.%').execute();
  assert.deepEqual(audit.map((a) => a.action).sort(), ['app-password.create', 'app-password.revoke']);
  assert.ok(!JSON.stringify(audit).includes(secret), 'no secret in the audit log');
});

test("a user may not touch someone else's app passwords, nor assign themselves an address; an administrator may", async () => {
  assert.equal((await call('carol', 'GET', '/api/v1/users/dave@corp.test/app-passwords')).status, 403);
  assert.equal((await call('carol', 'POST', '/api/v1/users/dave@corp.test/app-passwords', { name: 'x' })).status, 403);
  assert.equal((await call('carol', 'POST', '/api/v1/users/carol@corp.test/sender-addresses', { address: 'ceo@corp.test' })).status, 403);
  const mine = await call('carol', 'GET', '/api/v1/users/carol@corp.test/sender-addresses');
  assert.deepEqual(mine.json, { user: 'carol@corp.test', own: 'carol@corp.test', assigned: [] });
  const made = await call('admin', 'POST', '/api/v1/users/dave@corp.test/app-passwords', { name: 'scanner' });
  assert.equal(made.status, 201, made.text);
  const added = await call('admin', 'POST', '/api/v1/users/dave@corp.test/sender-addresses', { address: '*@Scans.Corp.Test' });
  assert.equal(added.status, 201, added.text);
  assert.deepEqual(added.json.assigned, ['*@scans.corp.test']);
  const bad = await call('admin', 'POST', '/api/v1/users/dave@corp.test/sender-addresses', { address: 'not an address' });
  assert.equal(bad.status, 400, bad.text);
  assert.equal(bad.json.error.details.address, 'not an address');
  const auth = await authenticateSubmission(db, 'dave@corp.test', made.json.password, '192.0.2.8');
  assert.ok(auth.ok, JSON.stringify(auth));
  assert.ok(auth.ok && mayUseAddress(auth.user.senders, 'printer@scans.corp.test'), 'the wildcard address is usable');
  assert.ok(auth.ok && !mayUseAddress(auth.user.senders, 'printer@corp.test'), 'not the parent domain');
  const removed = await call('admin', 'DELETE', '/api/v1/users/dave@corp.test/sender-addresses/*@scans.corp.test');
  assert.equal(removed.status, 200, removed.text);
  assert.deepEqual(removed.json.assigned, []);
});
