// Accounts and their security, through the real HTTPS server of a built gateway:
// first login, session fixation, CSRF, lockout and unlock, TOTP, the role matrix of the
// account routes, and the audit trail of every change.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { setSetting, resetSetting } from '../../src/config/settings.ts';
import { touchSession } from '../../src/db/repos/sessions.ts';
import { findUserByName } from '../../src/db/repos/users.ts';
import { cliActor, type Role } from '../../src/services/actor.ts';
import { sha256Hex } from '../../src/services/secret-tokens.ts';
import { createUser } from '../../src/services/user-service.ts';
import { listAudit } from '../../src/services/audit-service.ts';
import { runCli } from '../helpers/gateway.ts';
import { makeClient, PASSWORDS, sessionCookieOf, startApiGateway, TEST_ROLES, USERNAMES, type ApiGateway } from '../helpers/api.ts';

let api: ApiGateway;
before(async () => {
  api = await startApiGateway();
});
after(async () => {
  await api?.cleanup();
});

const actions = async (targetId: string) => (await listAudit(api.gw.db, cliActor(), { targetId, limit: 500 })).items.map((e) => e.action);

test('init creates the first administrator once, with a generated password it prints once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hermes-init-admin-'));
  try {
    const first = await runCli(['init', '--data-dir', dir, '--hostname', 'mx.init.test', '--smtp-port', '2525', '--http-port', '8444']);
    assert.equal(first.code, 0, first.stderr);
    const m = /FIRST LOGIN PASSWORD for "admin": (\S+)/.exec(first.stdout);
    assert.ok(m, first.stdout);
    assert.ok(m[1]!.length >= 20, 'a long generated password');
    assert.match(first.stdout, /must change it/);
    const again = await runCli(['init', '--data-dir', dir]);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stdout, /PASSWORD/);
    assert.match(again.stdout, /accounts exist \(kept\)/);
    const other = await runCli(['init', '--data-dir', join(dir, 'second')]);
    assert.notEqual(/FIRST LOGIN PASSWORD for "admin": (\S+)/.exec(other.stdout)?.[1], m[1], 'no fixed password');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const admin = await findUserByName(api.gw.db, 'admin');
  assert.match(admin!.password_hash, /^\$argon2id\$/);
  assert.equal(admin!.must_change_password, 1);
});

test('first sign-in with a temporary password: only the password change is allowed until it is done', async () => {
  const reset = await api.gw.cli(['admin', 'reset-password', 'admin']);
  assert.equal(reset.code, 0, reset.stderr);
  const temp = /temporary password for admin: (\S+)/.exec(reset.stdout)![1]!;
  // "admin" the account init made (api.login('admin') would be the admin test account).
  const login = await api.client().post('/api/v1/session', { username: 'admin', password: temp });
  assert.equal(login.status, 200, login.text);
  assert.equal(login.json.required, 'password_change');
  const c = api.client({ cookie: sessionCookieOf(login)!, 'x-csrf-token': login.json.csrfToken });
  const blocked = await c.get('/api/v1/users');
  assert.equal(blocked.status, 403);
  assert.equal(blocked.json.error.details.reason, 'password_change_required');
  const weak = await c.post('/api/v1/me/password', { currentPassword: temp, newPassword: 'short' });
  assert.equal(weak.status, 400);
  assert.ok(weak.json.error.details.password);
  const withName = await c.post('/api/v1/me/password', { currentPassword: temp, newPassword: 'my-admin-password-1' });
  assert.equal(withName.status, 400, 'the user name inside the password is refused');
  const changed = await c.post('/api/v1/me/password', { currentPassword: temp, newPassword: 'Sturdy-lighthouse-77' });
  assert.equal(changed.status, 200, changed.text);
  assert.equal(changed.json.mustChangePassword, false);
  assert.equal((await c.get('/api/v1/users')).status, 200);
  assert.equal((await api.client().post('/api/v1/session', { username: 'admin', password: temp })).status, 401, 'the temporary password is gone');
  assert.ok((await actions(changed.json.id)).includes('user.change-password'));
});

test('session: secure cookie attributes, a new id at every sign-in (no fixation), sign-out ends it', async () => {
  const a = await api.login('auditor');
  assert.equal(a.login.status, 200);
  const setCookie = String(a.login.headers['set-cookie']);
  assert.match(setCookie, /^__Host-hermes_session=/);
  for (const attr of [/;\s*Secure/i, /;\s*HttpOnly/i, /;\s*SameSite=Strict/i, /;\s*Path=\//i]) assert.match(setCookie, attr);
  assert.doesNotMatch(setCookie, /Domain=/i);
  const cookieA = a.headers.cookie!;
  const me = await a.get('/api/v1/session');
  assert.equal(me.status, 200);
  assert.equal(me.json.user.username, USERNAMES.auditor);
  assert.equal(me.json.csrfToken, a.login.json.csrfToken);
  // Signing in while presenting a session cookie (say, one an attacker planted) gives a new one and ends the old.
  const b = await makeClient(api.baseUrl, { cookie: cookieA }).post('/api/v1/session', { username: USERNAMES.auditor, password: PASSWORDS.auditor });
  assert.equal(b.status, 200);
  const cookieB = sessionCookieOf(b)!;
  assert.ok(cookieB && cookieB !== cookieA);
  assert.equal((await makeClient(api.baseUrl, { cookie: cookieA }).get('/api/v1/session')).status, 401);
  const planted = await makeClient(api.baseUrl, { cookie: '__Host-hermes_session=' + 'A'.repeat(43) }).post('/api/v1/session', { username: USERNAMES.auditor, password: PASSWORDS.auditor });
  assert.notEqual(sessionCookieOf(planted), '__Host-hermes_session=' + 'A'.repeat(43));
  const bc = makeClient(api.baseUrl, { cookie: cookieB, 'x-csrf-token': b.json.csrfToken });
  assert.equal((await bc.get('/api/v1/session')).status, 200);
  assert.equal((await bc.delete('/api/v1/session')).status, 200);
  assert.equal((await bc.get('/api/v1/session')).status, 401, 'signed out');
});

test('CSRF: a state change with the session cookie needs the session\'s X-CSRF-Token', async () => {
  const c = await api.login('admin');
  const cookie = c.headers.cookie!;
  const none = await makeClient(api.baseUrl, { cookie }).post('/api/v1/tokens', { name: 'csrf', role: 'auditor' });
  assert.equal(none.status, 403);
  assert.equal(none.json.error.details.csrf, 'invalid');
  const wrong = await makeClient(api.baseUrl, { cookie, 'x-csrf-token': 'x'.repeat(43) }).post('/api/v1/tokens', { name: 'csrf', role: 'auditor' });
  assert.equal(wrong.status, 403);
  assert.equal((await makeClient(api.baseUrl, { cookie }).get('/api/v1/tokens')).status, 200, 'reads need no CSRF token');
  assert.equal((await c.post('/api/v1/tokens', { name: 'csrf', role: 'auditor' })).status, 201);
});

test('lockout: 5 failures lock the account (423, says when and how to unlock); unknown users get the same answer; hermes admin unlock lifts it', async () => {
  const anon = makeClient(api.baseUrl);
  const unknown = await anon.post('/api/v1/session', { username: 'nobody-here', password: 'whatever-password' });
  const wrong = await anon.post('/api/v1/session', { username: USERNAMES.helpdesk, password: 'not-the-password' });
  assert.equal(unknown.status, 401);
  assert.equal(wrong.status, 401);
  assert.equal(unknown.json.error.message, wrong.json.error.message, 'no user enumeration');
  for (let i = 0; i < 4; i++) assert.equal((await anon.post('/api/v1/session', { username: USERNAMES.helpdesk, password: 'not-the-password' })).status, 401);
  const locked = await anon.post('/api/v1/session', { username: USERNAMES.helpdesk, password: PASSWORDS.helpdesk });
  assert.equal(locked.status, 423, locked.text);
  assert.equal(locked.json.error.code, 'locked');
  assert.match(locked.json.error.message, /try again after .* UTC/);
  assert.match(locked.json.error.message, /hermes admin unlock/);
  assert.ok(Number(locked.headers['retry-after']) > 800);
  const u = await api.gw.cli(['admin', 'unlock', USERNAMES.helpdesk]);
  assert.equal(u.code, 0, u.stderr);
  assert.match(u.stdout, /unlocked/);
  assert.equal((await anon.post('/api/v1/session', { username: USERNAMES.helpdesk, password: PASSWORDS.helpdesk })).status, 200);
  assert.ok((await actions(USERNAMES.helpdesk)).includes('user.unlock'));
});

test('TOTP: enrol with the QR secret, then sign-in needs a code; recovery codes work once', async () => {
  const c = await api.login('domain-admin');
  const start = await c.post('/api/v1/me/totp');
  assert.equal(start.status, 200, start.text);
  assert.match(start.json.otpauthUrl, /^otpauth:\/\/totp\/Hermes%20SEG:dora\?/);
  assert.match(start.json.qrSvg, /^<svg/);
  const totp = new TOTP({ secret: Secret.fromBase32(start.json.secret), digits: 6, period: 30, algorithm: 'SHA1' });
  const bad = await c.post('/api/v1/me/totp/confirm', { code: totp.generate() === '000000' ? '111111' : '000000' });
  assert.equal(bad.status, 400);
  const ok = await c.post('/api/v1/me/totp/confirm', { code: totp.generate() });
  assert.equal(ok.status, 200, ok.text);
  const codes: string[] = ok.json.recoveryCodes;
  assert.equal(codes.length, 10);
  assert.equal(new Set(codes).size, 10);
  const row = await findUserByName(api.gw.db, USERNAMES['domain-admin']);
  assert.ok(!row!.totp_secret_sealed!.includes(start.json.secret), 'the secret is sealed at rest');
  assert.ok(!row!.recovery_codes_json!.includes(codes[0]!), 'recovery codes are stored hashed');
  const noCode = await api.login('domain-admin');
  assert.equal(noCode.login.status, 401);
  assert.equal(noCode.login.json.error.details.totp, 'required');
  // The next step's code (valid now, one step of drift): the enrolment code itself is used up.
  const withCode = await api.login('domain-admin', undefined, totp.generate({ timestamp: Date.now() + 30_000 }));
  assert.equal(withCode.login.status, 200, withCode.login.text);
  assert.equal((await api.login('domain-admin', undefined, codes[3])).login.status, 200);
  assert.equal((await api.login('domain-admin', undefined, codes[3])).login.status, 401, 'a recovery code works once');
  const audit = JSON.stringify(await listAudit(api.gw.db, cliActor(), { targetId: row!.id }));
  assert.ok(audit.includes('user.totp-enable'));
  assert.ok(!audit.includes(start.json.secret) && !audit.includes(codes[0]!), 'no secrets in the audit log');
  // reset-2fa from the CLI: sign-in with the password alone again.
  assert.equal((await api.gw.cli(['admin', 'reset-2fa', USERNAMES['domain-admin']])).code, 0);
  assert.equal((await api.login('domain-admin')).login.status, 200);
});

test('TOTP: a code that was used (to sign in, or to turn 2FA on) is refused for the rest of its window', async () => {
  const password = 'Saffron-quarry-6120';
  await createUser(api.gw.db, cliActor(), { username: 'tess', role: 'auditor', password });
  const c = await api.login('tess', password);
  const start = await c.post('/api/v1/me/totp');
  const totp = new TOTP({ secret: Secret.fromBase32(start.json.secret), digits: 6, period: 30, algorithm: 'SHA1' });
  const enrolCode = totp.generate();
  assert.equal((await c.post('/api/v1/me/totp/confirm', { code: enrolCode })).status, 200);
  // A code of the next step is valid now (one step of clock drift is allowed) and newer than the enrolment code.
  const code = totp.generate({ timestamp: Date.now() + 30_000 });
  const first = await api.login('tess', password, code);
  assert.equal(first.login.status, 200, first.login.text);
  const replay = await api.login('tess', password, code);
  assert.equal(replay.login.status, 401, 'the same code again (a shoulder-surfed or phished one) is refused');
  assert.equal(replay.login.json.error.details.totp, 'wrong code');
  assert.match(replay.login.json.error.message, /used already/);
  assert.equal((await api.login('tess', password, enrolCode)).login.status, 401, 'an older code than the last one used is refused too');
});

test('idle timeout: a session unused for longer than console.sessionIdleMinutes (30 by default) is over; one used within it goes on', async () => {
  const cookieValue = (c: { headers: Record<string, string> }) => c.headers.cookie!.split('=', 2)[1]!;
  const idle = await api.login('auditor');
  await touchSession(api.gw.db, sha256Hex(cookieValue(idle)), Date.now() - 31 * 60_000);
  const over = await idle.get('/api/v1/session');
  assert.equal(over.status, 401, over.text);
  assert.equal((await idle.get('/api/v1/session')).status, 401, 'and it stays over');
  const busy = await api.login('auditor');
  await touchSession(api.gw.db, sha256Hex(cookieValue(busy)), Date.now() - 29 * 60_000);
  assert.equal((await busy.get('/api/v1/session')).status, 200, 'used 29 minutes ago: still signed in');
  await setSetting(api.gw.db, 'console.sessionIdleMinutes', 5);
  try {
    assert.equal((await busy.get('/api/v1/session')).status, 200, 'the request just now renewed it');
    await touchSession(api.gw.db, sha256Hex(cookieValue(busy)), Date.now() - 6 * 60_000);
    assert.equal((await busy.get('/api/v1/session')).status, 401, 'a shorter idle timeout set by the administrator applies at once');
  } finally {
    await resetSetting(api.gw.db, 'console.sessionIdleMinutes');
  }
});

test('2FA required for a role: its users are sent to enrolment after sign-in', async () => {
  await setSetting(api.gw.db, 'console.require2faRoles', ['auditor']);
  try {
    const c = await api.login('auditor');
    assert.equal(c.login.status, 200);
    assert.equal(c.login.json.required, 'totp_enrolment');
    const r = await c.get('/api/v1/tokens');
    assert.equal(r.status, 403);
    assert.equal(r.json.error.details.reason, 'totp_enrolment_required');
    assert.equal((await c.post('/api/v1/me/totp')).status, 200, 'enrolment is allowed');
    assert.equal((await api.as('auditor').get('/api/v1/tokens')).status, 200, 'API tokens are not people: no 2FA');
  } finally {
    await resetSetting(api.gw.db, 'console.require2faRoles');
  }
});

test('role matrix of the account routes (by token)', async () => {
  const expect: Record<Role, Record<string, number>> = {
    admin: { 'GET /api/v1/users': 200, 'POST /api/v1/users': 201, 'GET /api/v1/tokens': 200, 'POST /api/v1/tokens': 201, 'GET /api/v1/audit': 200 },
    auditor: { 'GET /api/v1/users': 200, 'POST /api/v1/users': 403, 'GET /api/v1/tokens': 200, 'POST /api/v1/tokens': 403, 'GET /api/v1/audit': 200 },
    helpdesk: { 'GET /api/v1/users': 403, 'POST /api/v1/users': 403, 'GET /api/v1/tokens': 403, 'POST /api/v1/tokens': 403, 'GET /api/v1/audit': 403 },
    'domain-admin': { 'GET /api/v1/users': 403, 'POST /api/v1/users': 403, 'GET /api/v1/tokens': 403, 'POST /api/v1/tokens': 403, 'GET /api/v1/audit': 403 },
  };
  for (const role of TEST_ROLES) {
    for (const [route, status] of Object.entries(expect[role])) {
      const [method, path] = route.split(' ') as [string, string];
      const body = path.endsWith('users') ? { username: `m-${role}`, role: 'auditor' } : { name: `m-${role}`, role: 'auditor' };
      const r = await api.as(role).request(method, path, method === 'POST' ? body : undefined);
      assert.equal(r.status, status, `${role} ${route}: ${r.text}`);
    }
  }
});

test('users API: create, change role, disable, reset password, delete; each change audited without secrets', async () => {
  const admin = api.as('admin');
  const created = await admin.post('/api/v1/users', { username: 'Zed', role: 'domain-admin', domains: ['Example.org'] });
  assert.equal(created.status, 201, created.text);
  assert.equal(created.json.user.username, 'zed');
  assert.deepEqual(created.json.user.domains, ['example.org']);
  assert.equal(created.json.user.mustChangePassword, true);
  const firstPassword: string = created.json.password;
  assert.ok(firstPassword.length >= 20);
  const id: string = created.json.user.id;
  assert.equal((await admin.post('/api/v1/users', { username: 'zed', role: 'auditor' })).status, 409);
  assert.equal((await admin.post('/api/v1/users', { username: 'x1', role: 'domain-admin' })).status, 400, 'a domain-admin needs domains');
  const promoted = await admin.patch(`/api/v1/users/${id}`, { role: 'helpdesk' });
  assert.equal(promoted.status, 200, promoted.text);
  assert.equal(promoted.json.domains, null);
  const c = await api.login('zed', firstPassword);
  assert.equal(c.login.status, 200);
  assert.equal((await admin.patch(`/api/v1/users/${id}`, { disabled: true })).json.disabled, true);
  assert.equal((await c.get('/api/v1/session')).status, 401, 'disabling ends the sessions');
  assert.equal((await api.login('zed', firstPassword)).login.status, 401);
  await admin.patch(`/api/v1/users/${id}`, { disabled: false });
  const reset = await admin.post(`/api/v1/users/${id}/reset-password`);
  assert.equal(reset.status, 200);
  assert.ok(reset.json.password.length >= 20 && reset.json.password !== firstPassword);
  assert.equal((await admin.post(`/api/v1/users/${id}/reset-2fa`)).status, 200);
  assert.equal((await admin.post(`/api/v1/users/${id}/unlock`, {})).status, 200);
  assert.equal((await admin.delete(`/api/v1/users/${id}`)).status, 200);
  assert.equal((await admin.get(`/api/v1/users/${id}`)).status, 404);
  const log = await listAudit(api.gw.db, cliActor(), { targetId: id });
  assert.deepEqual(log.items.map((e) => e.action).reverse(), ['user.create', 'user.update', 'user.update', 'user.update', 'user.reset-password', 'user.reset-2fa', 'user.delete']);
  assert.equal(log.items[0]!.actor.name, 'token:test admin');
  assert.equal(log.items[0]!.address, '127.0.0.1');
  const text = JSON.stringify(log);
  assert.ok(!text.includes(firstPassword) && !text.includes(reset.json.password) && !text.includes('$argon2'), 'no passwords or hashes in the audit log');
  // unlock is keyed by user name
  assert.ok((await actions('zed')).includes('user.unlock'));
});

test('the last administrator cannot be demoted, disabled or deleted', async () => {
  const db = api.gw.db;
  const admins = ['admin', USERNAMES.admin];
  assert.equal((await api.as('admin').patch(`/api/v1/users/${admins[0]}`, { disabled: true })).status, 200);
  const last = await api.as('admin').patch(`/api/v1/users/${admins[1]}`, { role: 'auditor' });
  assert.equal(last.status, 409, last.text);
  assert.match(last.json.error.message, /last enabled administrator/);
  assert.equal((await api.as('admin').patch(`/api/v1/users/${admins[0]}`, { disabled: false })).status, 200);
  assert.ok(db);
});

test('audit API: filters, cursor pages, CSV export', async () => {
  const admin = api.as('admin');
  const page1 = await admin.get('/api/v1/audit?limit=2');
  assert.equal(page1.status, 200, page1.text);
  assert.equal(page1.json.items.length, 2);
  assert.ok(page1.json.nextCursor);
  const page2 = await admin.get(`/api/v1/audit?limit=2&cursor=${page1.json.nextCursor}`);
  assert.ok(page2.json.items[0].id < page1.json.items[1].id);
  const created = await admin.get('/api/v1/audit?action=token.create');
  assert.ok(created.json.items.length >= 1);
  assert.ok(created.json.items.every((e: { action: string }) => e.action === 'token.create'));
  const csv = await api.as('auditor').get('/api/v1/audit?format=csv&action=user.create');
  assert.equal(csv.status, 200);
  assert.match(String(csv.headers['content-type']), /text\/csv/);
  assert.match(csv.text, /^id,at,actor_kind,actor,address,action/);
  assert.match(csv.text, /user\.create/);
  assert.equal((await admin.get('/api/v1/audit?from=yesterday')).status, 400);
});
