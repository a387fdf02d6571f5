// The core REST routes (domains, recipients, networks, smarthost, settings, queue, trace,
// quarantine, lists, dashboard) against a real gateway: they work for an administrator,
// the role matrix holds through the API (domain scope, read-only auditor, helpdesk
// limits, scoped tokens), bad input is a 400 naming the field, and changes are audited.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startApiGateway, type ApiGateway } from '../helpers/api.ts';
import { sendMessage, simpleMessage } from '../helpers/smtp-probe.ts';
import { eventually } from '../helpers/gateway.ts';

let api: ApiGateway;
before(async () => {
  api = await startApiGateway();
});
after(async () => {
  await api?.cleanup();
});

test('an administrator manages relay domains through the API, and each change is audited', async () => {
  const admin = api.as('admin');
  const created = await admin.post('/api/v1/domains', { domain: 'example.com', nextHop: '127.0.0.1:2525' });
  assert.equal(created.status, 201, created.text);
  assert.equal(created.json.domain, 'example.com');
  await admin.post('/api/v1/domains', { domain: 'other.org', recipientMode: 'specified' });
  const list = await admin.get('/api/v1/domains');
  assert.equal(list.status, 200);
  assert.deepEqual(list.json.items.map((d: { domain: string }) => d.domain).sort(), ['example.com', 'other.org']);
  const patched = await admin.patch('/api/v1/domains/example.com', { requireTls: true });
  assert.equal(patched.status, 200, patched.text);
  assert.equal(patched.json.requireTls, true);
  const audit = await admin.get('/api/v1/audit?targetType=domain');
  assert.equal(audit.status, 200, audit.text);
  const actions = audit.json.items.map((e: { action: string }) => e.action);
  assert.ok(actions.filter((a: string) => a.startsWith('domain.')).length >= 3, JSON.stringify(actions));
});

test('bad input is a 400 that names the field', async () => {
  const admin = api.as('admin');
  const bad = await admin.post('/api/v1/domains', { domain: 'not a domain' });
  assert.equal(bad.status, 400, bad.text);
  assert.equal(bad.json.error.code, 'invalid');
  assert.ok(bad.json.error.details?.domain, bad.text);
  const badNet = await admin.post('/api/v1/networks', { cidr: '10.0.0.0/40' });
  assert.equal(badNet.status, 400, badNet.text);
  const badMode = await admin.post('/api/v1/domains', { domain: 'x.example', recipientMode: 'some' });
  assert.equal(badMode.status, 400, badMode.text);
  const badCursor = await admin.get('/api/v1/trace?cursor=garbage');
  assert.equal(badCursor.status, 400, badCursor.text);
});

test('the role matrix holds through the API', async () => {
  await api.as('admin').post('/api/v1/domains', { domain: 'example.net', nextHop: '127.0.0.1:2525' }).catch(() => {});
  // The domain administrator of example.com sees only its own domain.
  const da = await api.as('domain-admin').get('/api/v1/domains');
  assert.equal(da.status, 200, da.text);
  assert.deepEqual(da.json.items.map((d: { domain: string }) => d.domain), ['example.com']);
  assert.equal((await api.as('domain-admin').get('/api/v1/domains/other.org')).status, 403);
  assert.equal((await api.as('domain-admin').post('/api/v1/domains', { domain: 'new.example' })).status, 403);
  assert.equal((await api.as('domain-admin').get('/api/v1/settings')).status, 403);
  // The auditor reads everything and changes nothing.
  assert.equal((await api.as('auditor').get('/api/v1/settings')).status, 200);
  assert.equal((await api.as('auditor').put('/api/v1/settings/smtp.maxClients', { value: 10 })).status, 403);
  assert.equal((await api.as('auditor').delete('/api/v1/domains/example.com')).status, 403);
  // Helpdesk: quarantine and trace, not domains.
  assert.equal((await api.as('helpdesk').get('/api/v1/quarantine')).status, 200);
  assert.equal((await api.as('helpdesk').get('/api/v1/trace')).status, 200);
  assert.equal((await api.as('helpdesk').post('/api/v1/domains', { domain: 'h.example' })).status, 403);
  // Nobody without a token.
  assert.equal((await api.client().get('/api/v1/domains')).status, 401);
});

test("a domain administrator cannot read another domain's trace", async () => {
  const admin = api.as('admin');
  await admin.post('/api/v1/domains', { domain: 'example.org', nextHop: '127.0.0.1:9' });
  for (const to of ['bob@example.com', 'eve@example.org']) {
    const r = await sendMessage(api.gw.port, { from: 'carol@sender.test', to: [to] }, simpleMessage({ from: 'carol@sender.test', to, subject: `for ${to}` }));
    assert.equal(r.code, 250, JSON.stringify(r));
  }
  const all = await eventually(async () => {
    const t = await admin.get('/api/v1/trace');
    return t.json.items.length >= 2 ? t : null;
  }, 30_000, 'both messages in the trace');
  const other = all.json.items.find((m: { recipients: Array<{ address: string }> }) => m.recipients.some((r) => r.address === 'eve@example.org'));
  assert.ok(other);
  const mine = await api.as('domain-admin').get('/api/v1/trace');
  assert.equal(mine.status, 200);
  assert.ok(mine.json.items.every((m: { recipients: Array<{ address: string }> }) => m.recipients.every((r) => r.address.endsWith('@example.com'))), mine.text);
  // Another domain's message does not exist for a domain administrator (403 or 404: never its content).
  const hidden = await api.as('domain-admin').get(`/api/v1/trace/${other.id}`);
  assert.ok([403, 404].includes(hidden.status), hidden.text);
  assert.ok(!hidden.text.includes('eve@example.org'), hidden.text);
  const detail = await admin.get(`/api/v1/trace/${other.id}`);
  assert.equal(detail.status, 200, detail.text);
  assert.ok(detail.json.events.length > 0);
  const dash = await admin.get('/api/v1/dashboard');
  assert.equal(dash.status, 200, dash.text);
  assert.ok(Array.isArray(dash.json.traffic));
});
