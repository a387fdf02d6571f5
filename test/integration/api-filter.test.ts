// The filter routes (/api/v1/filter-policies, rules, filerules, body-changes, dkim, arc,
// dnsbl, bayes, malware/external status) through the real HTTPS server in process
// (fastify inject), authenticated with real API tokens of each role: the role matrix,
// field-level 400s, an audit entry for every change, and no private key in any answer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { buildHttpServer } from '../../src/http/server.ts';
import type { HttpContext } from '../../src/http/context.ts';
import { ensureMasterKey, loadMasterKey } from '../../src/keys/master-key.ts';
import { loadSettings } from '../../src/config/settings.ts';
import type { LoadedConfig } from '../../src/config/bootstrap.ts';
import { cliActor, type Role } from '../../src/services/actor.ts';
import { createToken } from '../../src/services/token-service.ts';
import { listAudit } from '../../src/services/audit-service.ts';
import { generateDkimKey } from '../../src/pipeline/sign/dkim-keys.ts';
import { openTestDatabase } from '../helpers/temp-db.ts';

let dir: string;
let db: Db;
let app: FastifyInstance;
const tokens = {} as Record<Role, string>;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hermes-api-filter-'));
  db = await openTestDatabase(dir);
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
  for (const role of ['admin', 'domain-admin', 'helpdesk', 'auditor'] as Role[]) {
    tokens[role] = (await createToken(db, cliActor(), { name: role, role, ...(role === 'domain-admin' ? { domains: ['example.com'] } : {}) })).token;
  }
});

after(async () => {
  await app?.close();
  await db?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

async function call(role: Role, method: string, url: string, body?: unknown) {
  const r = await app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${tokens[role]}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { payload: JSON.stringify(body) } : {}) });
  return { status: r.statusCode, json: r.body ? JSON.parse(r.body) : undefined, text: r.body };
}

const MSG = 'From: ann@example.com\r\nTo: bob@partner.test\r\nSubject: Your invoice\r\n\r\nPlease pay today, it is urgent.\r\n';

test('every filter route answers an administrator, and each change leaves an audit entry', async () => {
  const before = (await listAudit(db, cliActor(), { limit: 500 })).items.length;
  const ok = async (method: string, url: string, body?: unknown, status = 200) => {
    const r = await call('admin', method, url, body);
    assert.equal(r.status, status, `${method} ${url}: ${r.text}`);
    return r.json;
  };
  assert.ok((await ok('GET', '/api/v1/filter-policies')).items.some((p: { name: string }) => p.name === 'default'));
  assert.equal((await ok('POST', '/api/v1/filter-policies', { name: 'strict', tagScore: 1, quarantineScore: 3, rejectScore: 8 }, 201)).rejectScore, 8);
  assert.equal((await ok('PATCH', '/api/v1/filter-policies/strict', { spamAction: 'discard' })).spamAction, 'discard');
  await ok('PUT', '/api/v1/filter-policies/assignments', { target: 'ceo@example.com', policy: 'strict' });
  assert.equal((await ok('GET', '/api/v1/filter-policies/resolve?address=ceo@example.com')).policy, 'strict');
  assert.equal((await ok('GET', '/api/v1/filter-policies/assignments')).items.length, 2);
  await ok('DELETE', '/api/v1/filter-policies/assignments/ceo@example.com');
  await ok('DELETE', '/api/v1/filter-policies/strict');

  const rule = { name: 'invoices', conditions: [{ field: 'header', header: 'Subject', op: 'regex', value: '\\binvoice\\b' }], actions: [{ action: 'score', value: 3 }] };
  const t = await ok('POST', '/api/v1/rules/test', { rule, message: MSG });
  assert.equal(t.matched, true);
  assert.equal(t.conditions[0].held, true);
  await ok('POST', '/api/v1/rules', rule, 201);
  assert.equal((await ok('POST', '/api/v1/rules/test', { name: 'invoices', message: MSG.replace('invoice', 'hello') })).matched, false);
  assert.equal((await ok('POST', '/api/v1/rules/invoices/disable')).enabled, false);
  assert.equal((await ok('POST', '/api/v1/rules/invoices/enable', {})).enabled, true);
  await ok('GET', '/api/v1/rules/invoices');
  await ok('DELETE', '/api/v1/rules/invoices');

  await ok('POST', '/api/v1/filerules', { name: 'strict', copyFrom: 'default' }, 201);
  await ok('POST', '/api/v1/filerules/strict/rules', { rule: { name: 'no-iso', kind: 'extension', values: ['iso'], action: 'ban', inArchives: true, description: '' } });
  assert.ok((await ok('GET', '/api/v1/filerules/strict')).rules.some((r: { name: string }) => r.name === 'no-iso'));
  await ok('POST', '/api/v1/filerules/strict/test', { message: MSG });
  await ok('DELETE', '/api/v1/filerules/strict/rules/no-iso');
  await ok('DELETE', '/api/v1/filerules/strict');

  await ok('PUT', '/api/v1/body-changes/disclaimer/templates/legal', { text: 'Confidential: for the addressee only.' });
  const rr = await ok('POST', '/api/v1/body-changes/disclaimer/rules', { template: 'legal', scope: 'all' }, 201);
  const p = await ok('POST', '/api/v1/body-changes/preview', { message: MSG, from: 'ann@example.com', to: ['bob@partner.test'], direction: 'outbound' });
  assert.equal(p.changed, true);
  assert.match(p.message, /Confidential: for the addressee only\./);
  assert.ok('disclaimer' in p.changes);
  await ok('PATCH', `/api/v1/body-changes/disclaimer/rules/${rr.id}`, { enabled: false });
  await ok('POST', '/api/v1/body-changes/sender-groups', { group: 'sales', member: 'ann@example.com' }, 201);
  assert.equal((await ok('GET', '/api/v1/body-changes/sender-groups')).items.length, 1);

  const k = await ok('POST', '/api/v1/dkim', { domain: 'example.com', selector: 'rsa1', bits: 1024 }, 201);
  assert.match(k.dnsValue, /^v=DKIM1; k=rsa; p=/);
  assert.equal((await ok('GET', '/api/v1/dkim/example.com/dns')).publish[0].dnsName, 'rsa1._domainkey.example.com');
  assert.equal((await ok('PUT', '/api/v1/arc', { enabled: true, domain: 'example.com', selector: 'rsa1' })).enabled, true);
  assert.deepEqual(await ok('GET', '/api/v1/arc'), { enabled: true, domain: 'example.com', selector: 'rsa1' });
  await ok('PUT', '/api/v1/arc', { enabled: false });
  assert.equal((await ok('GET', '/api/v1/arc')).enabled, false);
  await ok('DELETE', '/api/v1/dkim/example.com/rsa1?force=true');

  assert.deepEqual((await ok('PATCH', '/api/v1/dnsbl', { rejectZones: ['zen.spamhaus.org'] })).rejectZones, ['zen.spamhaus.org']);
  await ok('GET', '/api/v1/dnsbl');
  assert.equal((await ok('POST', '/api/v1/bayes/learn', { as: 'spam', message: MSG })).outcome, 'learned');
  assert.equal((await ok('GET', '/api/v1/bayes')).spamMessages, 1);
  assert.equal((await ok('GET', '/api/v1/malware/status')).configured, false);
  assert.equal((await ok('GET', '/api/v1/external/status')).items.length, 2);

  const entries = (await listAudit(db, cliActor(), { limit: 500 })).items.slice(0, -before || undefined);
  const actions = new Set(entries.map((e) => e.action));
  for (const a of ['filter-policy.create', 'filter-policy.update', 'filter-policy.assign', 'filter-policy.unassign', 'filter-policy.remove', 'rule.create', 'rule.disable', 'rule.enable', 'rule.remove',
    'filerules.create', 'filerules.rule.save', 'filerules.rule.remove', 'filerules.delete', 'disclaimer.template.save', 'disclaimer.rule.save', 'disclaimer.rule.disable', 'sender-group.add',
    'dkim.generate', 'arc.set', 'dkim.remove', 'dnsbl.update', 'bayes.learn-spam']) assert.ok(actions.has(a), `audit entry ${a}`);
  assert.ok(entries.every((e) => e.actor.kind === 'token' && e.actor.name === 'token:admin'), 'every change is by the admin token');
});

test('auditors read but change nothing; helpdesk sees none of it; domain admins stay in their domains', async () => {
  assert.equal((await call('auditor', 'GET', '/api/v1/rules')).status, 200);
  assert.equal((await call('auditor', 'GET', '/api/v1/dkim')).status, 200);
  for (const [m, u, b] of [
    ['POST', '/api/v1/filter-policies', { name: 'x' }],
    ['POST', '/api/v1/rules', { name: 'x', conditions: [{ field: 'size', op: 'gt', value: 1 }], actions: [{ action: 'quarantine' }] }],
    ['POST', '/api/v1/filerules', { name: 'x' }],
    ['PUT', '/api/v1/body-changes/banner/templates/x', { text: 'x' }],
    ['POST', '/api/v1/dkim', { domain: 'example.com' }],
    ['PUT', '/api/v1/arc', { enabled: false }],
    ['PATCH', '/api/v1/dnsbl', { enabled: false }],
    ['POST', '/api/v1/bayes/learn', { as: 'ham', message: MSG }],
  ] as const) assert.equal((await call('auditor', m, u, b)).status, 403, `${m} ${u}`);
  assert.equal((await call('helpdesk', 'GET', '/api/v1/rules')).status, 403);

  assert.equal((await call('domain-admin', 'PUT', '/api/v1/filter-policies/assignments', { target: 'example.com', policy: 'default' })).status, 200);
  assert.equal((await call('domain-admin', 'PUT', '/api/v1/filter-policies/assignments', { target: 'other.test', policy: 'default' })).status, 403);
  assert.equal((await call('domain-admin', 'POST', '/api/v1/dkim', { domain: 'other.test', algorithm: 'ed25519' })).status, 403);
  assert.equal((await call('domain-admin', 'POST', '/api/v1/dkim', { domain: 'example.com', selector: 'ed1', algorithm: 'ed25519' })).status, 201);
  await call('admin', 'POST', '/api/v1/dkim', { domain: 'other.test', selector: 'o1', algorithm: 'ed25519' });
  const mine = await call('domain-admin', 'GET', '/api/v1/dkim');
  assert.ok(mine.json.items.length > 0 && mine.json.items.every((k: { domain: string }) => k.domain === 'example.com'));
  assert.equal((await call('domain-admin', 'GET', '/api/v1/dkim/other.test/dns')).status, 403);
});

test('validation errors are 400 with field details', async () => {
  const bad = async (m: string, u: string, b: unknown, field: string) => {
    const r = await call('admin', m, u, b);
    assert.equal(r.status, 400, `${m} ${u}: ${r.text}`);
    assert.equal(r.json.error.code, 'invalid');
    assert.ok(field in (r.json.error.details ?? {}), `${field} in ${JSON.stringify(r.json.error.details)}`);
  };
  await bad('POST', '/api/v1/filter-policies', { name: 'x', spamAction: 'explode' }, 'spamAction');
  await bad('POST', '/api/v1/filter-policies', { name: 'Bad Name!' }, 'name');
  await bad('POST', '/api/v1/rules', { name: 'x', conditions: [{ field: 'header', op: 'regex', value: '(' }], actions: [{ action: 'quarantine' }] }, 'rule');
  await bad('POST', '/api/v1/rules/test', { rule: { name: 'x', conditions: [], actions: [] }, message: MSG }, 'rule.conditions');
  await bad('POST', '/api/v1/dkim', { domain: 'example.com', selector: 'k', privateKey: 'not a key' }, 'privateKey');
  await bad('PATCH', '/api/v1/dnsbl', { budgetMs: -1 }, 'budgetMs');
  await bad('POST', '/api/v1/bayes/learn', { as: 'eggs', message: MSG }, 'as');
});

test('private key material never appears in any answer or audit entry', async () => {
  const pem = (await generateDkimKey('rsa-sha256', 1024)).privateKeyPem;
  const r = await call('admin', 'POST', '/api/v1/dkim', { domain: 'example.com', selector: 'imp1', privateKey: pem, pending: true });
  assert.equal(r.status, 201, r.text);
  const answers = [r.text, (await call('admin', 'GET', '/api/v1/dkim')).text, (await call('admin', 'GET', '/api/v1/dkim/example.com/dns')).text];
  const audit = JSON.stringify((await listAudit(db, cliActor(), { limit: 500 })).items);
  const body = pem.split('\n')[1]!;
  for (const text of [...answers, audit]) {
    assert.ok(!text.includes(body), 'no private key bytes');
    assert.doesNotMatch(text, /PRIVATE KEY/);
  }
});
