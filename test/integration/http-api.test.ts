// The HTTPS server as a client sees it: a built gateway, real TLS, real requests.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cliActor } from '../../src/services/actor.ts';
import { createToken } from '../../src/services/token-service.ts';
import { listAudit } from '../../src/services/audit-service.ts';
import { startApiGateway, type ApiGateway } from '../helpers/api.ts';

let api: ApiGateway;
before(async () => {
  api = await startApiGateway();
});
after(async () => {
  await api?.cleanup();
});

test('healthz and readyz answer without login; readyz checks database, spool and SMTP', async () => {
  const h = await api.client().get('/healthz');
  assert.equal(h.status, 200);
  assert.deepEqual(h.json, { status: 'ok' });
  const r = await api.client().get('/readyz');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { status: 'ok', checks: { database: true, spool: true, smtp: true } });
});

test('every response carries the security headers; API answers are not cached', async () => {
  for (const path of ['/healthz', '/api/v1/tokens', '/api/v1/nothing-here', '/']) {
    const r = await api.client().get(path);
    assert.match(String(r.headers['strict-transport-security']), /max-age=\d+/, path);
    const csp = String(r.headers['content-security-policy']);
    for (const d of ["default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"]) assert.ok(csp.includes(d), `${path}: ${csp} lacks ${d}`);
    assert.ok(!csp.includes('unsafe-inline'), path);
    assert.equal(r.headers['x-content-type-options'], 'nosniff', path);
    assert.equal(r.headers['referrer-policy'], 'no-referrer', path);
    if (path.startsWith('/api/')) assert.equal(r.headers['cache-control'], 'no-store', path);
  }
});

test('the OpenAPI description lists the routes, and the reference page loads under its own CSP', async () => {
  const spec = await api.client().get('/api/v1/openapi.json');
  assert.equal(spec.status, 200);
  assert.equal(spec.json.openapi, '3.0.3');
  assert.ok(spec.json.paths['/api/v1/tokens'].post.requestBody, 'token creation documents its body');
  assert.ok(spec.json.paths['/api/v1/tokens/{id}'].delete);
  assert.ok(!Object.keys(spec.json.paths).some((p) => p.startsWith('/api/docs')), 'plugin routes are not API resources');
  const page = await api.client().get('/api/docs/');
  assert.equal(page.status, 200);
  assert.match(page.text, /swagger-ui/);
  assert.match(String(page.headers['content-security-policy']), /style-src 'self' 'unsafe-inline'/);
  assert.match(String(page.headers['content-security-policy']), /script-src 'self';/);
});

test('no API route answers without a session or token (every route in the OpenAPI description)', async () => {
  const spec = (await api.client().get('/api/v1/openapi.json')).json;
  const publicRoutes = new Set(['POST /api/v1/session']);
  let checked = 0;
  for (const [path, methods] of Object.entries<Record<string, unknown>>(spec.paths)) {
    if (!path.startsWith('/api/')) continue;
    for (const method of Object.keys(methods)) {
      const m = method.toUpperCase();
      if (publicRoutes.has(`${m} ${path}`)) continue;
      const url = path.replace(/\{[^}]+\}/g, 'x1');
      const r = await api.client().request(m, url, m === 'GET' || m === 'DELETE' ? undefined : {});
      assert.equal(r.status, 401, `${m} ${url}: ${r.text}`);
      assert.equal(r.json.error.code, 'unauthenticated');
      checked++;
    }
  }
  assert.ok(checked >= 3, `checked ${checked} routes`);
});

test('errors: unknown API path 404 JSON, validation 400 with the field, bad token 401', async () => {
  const nf = await api.as('admin').get('/api/v1/no-such-thing');
  assert.equal(nf.status, 404);
  assert.equal(nf.json.error.code, 'not_found');
  const bad = await api.as('admin').post('/api/v1/tokens', { role: 'auditor' });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.code, 'invalid');
  assert.equal(bad.json.error.details.name, 'required');
  assert.match(bad.json.error.message, /name is required/);
  const role = await api.as('admin').post('/api/v1/tokens', { name: 'x', role: 'superuser' });
  assert.equal(role.status, 400);
  assert.ok(role.json.error.details.role);
  const json = await api.as('admin').post('/api/v1/tokens', undefined, { raw: '{not json', headers: { 'content-type': 'application/json' } });
  assert.equal(json.status, 400);
  assert.equal(json.json.error.code, 'invalid');
  const wrong = await api.client({ authorization: 'Bearer hms_0123456789abcdef_' + 'A'.repeat(43) }).get('/api/v1/tokens');
  assert.equal(wrong.status, 401);
  assert.equal(wrong.json.error.code, 'unauthenticated');
});

test('API tokens: created once, listed without secret, scoped to their role, revocable, last use recorded', async () => {
  const created = await api.as('admin').post('/api/v1/tokens', { name: 'backup script', role: 'auditor' });
  assert.equal(created.status, 201, created.text);
  const token: string = created.json.token;
  assert.match(token, /^hms_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
  const list = await api.as('admin').get('/api/v1/tokens');
  assert.equal(list.status, 200);
  const mine = list.json.items.find((t: { id: string }) => t.id === created.json.info.id);
  assert.equal(mine.name, 'backup script');
  // The secret is everything after the second underscore (it may itself contain "_").
  assert.ok(!list.text.includes(token.slice(token.indexOf('_', 4) + 1)), 'the secret is never listed');
  const asToken = api.client({ authorization: `Bearer ${token}` });
  assert.equal((await asToken.get('/api/v1/tokens')).status, 200, 'an auditor token reads');
  const denied = await asToken.post('/api/v1/tokens', { name: 'escalate', role: 'admin' });
  assert.equal(denied.status, 403);
  assert.equal(denied.json.error.code, 'forbidden');
  const used = (await api.as('admin').get('/api/v1/tokens')).json.items.find((t: { id: string }) => t.id === created.json.info.id);
  assert.equal(used.lastUsedAddress, '127.0.0.1');
  assert.ok(used.lastUsedAt);
  const revoked = await api.as('admin').delete(`/api/v1/tokens/${created.json.info.id}`);
  assert.equal(revoked.status, 200);
  assert.ok(revoked.json.revokedAt);
  assert.equal((await asToken.get('/api/v1/tokens')).status, 401, 'a revoked token is refused at once');
  const entries = (await listAudit(api.gw.db, cliActor(), { targetId: created.json.info.id })).items.map((e) => e.action);
  assert.deepEqual(entries, ['token.revoke', 'token.create']);
  assert.ok(!JSON.stringify(await listAudit(api.gw.db, cliActor(), {})).includes(token.split('_')[2]!), 'no secret in the audit log');
});

test('API tokens: an expired token and one used from outside its allowed networks are refused', async () => {
  const cli = cliActor();
  const soon = await createToken(api.gw.db, cli, { name: 'short', role: 'admin', expiresAt: new Date(Date.now() + 1500).toISOString() });
  assert.equal((await api.client({ authorization: `Bearer ${soon.token}` }).get('/api/v1/tokens')).status, 200);
  await new Promise((r) => setTimeout(r, 1600));
  assert.equal((await api.client({ authorization: `Bearer ${soon.token}` }).get('/api/v1/tokens')).status, 401);
  const far = await createToken(api.gw.db, cli, { name: 'office only', role: 'admin', allowedCidrs: ['10.0.0.0/8'] });
  assert.equal((await api.client({ authorization: `Bearer ${far.token}` }).get('/api/v1/tokens')).status, 401);
  const near = await createToken(api.gw.db, cli, { name: 'loopback', role: 'admin', allowedCidrs: ['127.0.0.0/8', '::1'] });
  assert.equal((await api.client({ authorization: `Bearer ${near.token}` }).get('/api/v1/tokens')).status, 200);
  const bad = await api.as('admin').post('/api/v1/tokens', { name: 'x', role: 'admin', allowedCidrs: ['10.0.0.0/33'] });
  assert.equal(bad.status, 400);
  assert.ok(bad.json.error.details.allowedCidrs);
});

test('a domain-admin token needs domains; other roles take none', async () => {
  const r = await api.as('admin').post('/api/v1/tokens', { name: 'd', role: 'domain-admin' });
  assert.equal(r.status, 400);
  assert.ok(r.json.error.details.domains);
});

test('the console path answers with a page (the built console, or how to build it)', async () => {
  const r = await api.client().get('/quarantine');
  assert.ok(r.status === 200 || r.status === 503);
  assert.match(String(r.headers['content-type']), /text\/html/);
});
