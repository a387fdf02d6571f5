// The core services: domain scope filtered in SQL, validation errors that name the
// field, an audit entry for every change, keyset pages, queue hold/release, trace search.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Db } from '../../src/db/database.ts';
import type { Actor } from '../../src/services/actor.ts';
import { cliActor } from '../../src/services/actor.ts';
import { listAudit } from '../../src/services/audit-service.ts';
import { getDomain, listDomains, removeDomain, saveDomain } from '../../src/services/domains-service.ts';
import { addRecipient, listRecipients } from '../../src/services/recipients-service.ts';
import { addNetwork, removeNetwork } from '../../src/services/networks-service.ts';
import { getSetting, resetSetting, setSetting } from '../../src/services/settings-service.ts';
import { clearSmarthost, getSmarthost, setSmarthost } from '../../src/services/smarthost-service.ts';
import { addToList, listListEntries, removeListEntry } from '../../src/services/lists-service.ts';
import { holdQueued, listQueue, releaseQueued, retryQueue } from '../../src/services/queue-service.ts';
import { getTrace, searchTrace } from '../../src/services/trace-service.ts';
import { dashboardStats, isPlaceholderHostname } from '../../src/services/dashboard-service.ts';
import { ServiceError } from '../../src/services/service-error.ts';
import { withDb } from '../helpers/temp-db.ts';

const admin = cliActor();
const alice: Actor = { kind: 'user', id: '2', name: 'alice', role: 'domain-admin', domains: ['a.test'] };
const auditor: Actor = { kind: 'user', id: '3', name: 'audrey', role: 'auditor', domains: null };
const helpdesk: Actor = { kind: 'user', id: '4', name: 'hal', role: 'helpdesk', domains: null };

async function rejects(p: Promise<unknown>, code: string, field?: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ServiceError, `expected a ServiceError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (field) assert.ok(err.details?.[field], `details name ${field}: ${JSON.stringify(err.details)}`);
    return true;
  });
}

async function auditActions(db: Db): Promise<string[]> {
  return (await listAudit(db, admin, { limit: 500 })).items.map((e) => e.action).reverse();
}

test('domains: validation names the field, domain admins see and change only their own, every change is audited', async () => {
  await withDb(async (db) => {
    await rejects(saveDomain(db, admin, { domain: 'not a domain' }, 'create'), 'invalid', 'domain');
    await rejects(saveDomain(db, admin, { domain: 'a.test', nextHop: 'bad host:99999' }, 'create'), 'invalid', 'nextHop');
    await rejects(saveDomain(db, admin, { domain: 'a.test', recipientMode: 'some' as 'any' }, 'create'), 'invalid', 'recipientMode');
    await saveDomain(db, admin, { domain: 'A.test', nextHop: 'mail.a.test:25' }, 'create');
    await saveDomain(db, admin, { domain: 'b.test' }, 'create');
    await rejects(saveDomain(db, admin, { domain: 'a.test' }, 'create'), 'conflict');
    const updated = await saveDomain(db, alice, { domain: 'a.test', requireTls: true }, 'update');
    assert.deepEqual([updated.nextHop, updated.requireTls], ['mail.a.test:25', true], 'PATCH keeps the fields left out');
    await rejects(saveDomain(db, alice, { domain: 'b.test', requireTls: true }, 'update'), 'forbidden');
    await rejects(saveDomain(db, alice, { domain: 'sub.a.test' }, 'create'), 'forbidden');
    await rejects(removeDomain(db, alice, 'a.test'), 'forbidden');
    await rejects(saveDomain(db, auditor, { domain: 'c.test' }, 'create'), 'forbidden');
    await rejects(getDomain(db, alice, 'b.test'), 'forbidden');
    assert.deepEqual((await listDomains(db, alice)).items.map((d) => d.domain), ['a.test']);
    assert.deepEqual((await listDomains(db, auditor)).items.map((d) => d.domain), ['a.test', 'b.test']);
    await removeDomain(db, admin, 'b.test');
    await rejects(removeDomain(db, admin, 'b.test'), 'not_found');
    assert.deepEqual(await auditActions(db), ['domain.add', 'domain.add', 'domain.update', 'domain.remove']);
    const entry = (await listAudit(db, admin, { action: 'domain.update' })).items[0]!;
    assert.equal((entry.before as { requireTls: boolean }).requireTls, false);
    assert.equal((entry.after as { requireTls: boolean }).requireTls, true);
    assert.equal(entry.domain, 'a.test');
    assert.equal(entry.actor.name, 'alice');
  });
});

test('domain list pages by cursor without repeats', async () => {
  await withDb(async (db) => {
    for (let i = 0; i < 7; i++) await saveDomain(db, admin, { domain: `d${i}.test` }, 'create');
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const p = await listDomains(db, admin, { limit: 3, ...(cursor ? { cursor } : {}) });
      seen.push(...p.items.map((d) => d.domain));
      cursor = p.nextCursor ?? undefined;
    } while (cursor);
    assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6].map((i) => `d${i}.test`));
    await rejects(listDomains(db, admin, { cursor: 'garbage' }), 'invalid', 'cursor');
    await rejects(listDomains(db, admin, { limit: 0 }), 'invalid', 'limit');
  });
});

test('recipients, networks, smarthost, settings: scope, validation, audit', async () => {
  await withDb(async (db) => {
    await addRecipient(db, alice, 'Bob@A.test');
    await rejects(addRecipient(db, alice, 'bob@b.test'), 'forbidden');
    await rejects(addRecipient(db, admin, 'no-at-sign'), 'invalid', 'pattern');
    await addRecipient(db, admin, 'carol@b.test');
    assert.deepEqual((await listRecipients(db, alice)).items.map((r) => r.pattern), ['bob@a.test']);
    await rejects(addNetwork(db, alice, { cidr: '10.0.0.0/8' }), 'forbidden');
    await rejects(addNetwork(db, admin, { cidr: '10.0.0.300/8' }), 'invalid', 'cidr');
    assert.equal((await addNetwork(db, admin, { cidr: '10.0.0.0/8', description: 'office' })).description, 'office');
    await removeNetwork(db, admin, '10.0.0.0/8');
    await rejects(setSmarthost(db, admin, 'bad host'), 'invalid', 'host');
    await setSmarthost(db, admin, 'relay.example.net:587');
    assert.equal((await getSmarthost(db, auditor)).host, 'relay.example.net:587');
    await clearSmarthost(db, admin);
    await rejects(setSetting(db, admin, 'no.such', 1), 'not_found');
    await rejects(setSetting(db, admin, 'smtp.maxRecipients', -1), 'invalid', 'value');
    await rejects(setSetting(db, helpdesk, 'smtp.maxRecipients', 5), 'forbidden');
    const s = await setSetting(db, admin, 'smtp.maxRecipients', 50);
    assert.deepEqual([s.value, s.isDefault], [50, false]);
    assert.equal((await resetSetting(db, admin, 'smtp.maxRecipients')).isDefault, true);
    assert.equal((await getSetting(db, auditor, 'smtp.maxRecipients')).value, 1000);
    assert.deepEqual(await auditActions(db), ['recipient.add', 'recipient.add', 'network.add', 'network.remove', 'setting.set', 'setting.reset', 'setting.set', 'setting.reset']);
  });
});

test('lists: the global list is for administrators, a domain admin edits its own recipients\' lists', async () => {
  await withDb(async (db) => {
    await rejects(addToList(db, alice, { list: 'block', value: 'spam.example' }), 'forbidden');
    await rejects(addToList(db, admin, { list: 'nope', value: 'spam.example' }), 'invalid', 'list');
    await rejects(addToList(db, admin, { list: 'block', value: '' }), 'invalid', 'value');
    await addToList(db, admin, { list: 'block', value: 'spam.example' });
    const mine = await addToList(db, alice, { list: 'allow', value: 'news@vendor.example', owner: 'bob@a.test' });
    await addToList(db, admin, { list: 'allow', value: 'x@y.example', owner: 'b.test' });
    assert.deepEqual((await listListEntries(db, alice)).items.map((e) => e.owner), ['bob@a.test']);
    assert.equal((await listListEntries(db, admin)).items.length, 3);
    await removeListEntry(db, alice, mine.id);
    assert.deepEqual(await auditActions(db), ['list.add', 'list.add', 'list.add', 'list.remove']);
  });
});

async function seedMessage(db: Db, id: string, o: { at: number; from: string; to: string[]; subject?: string; status?: 'queued' | 'deferred' | 'delivered'; state?: 'queued' | 'done' | 'rejected'; ip?: string }): Promise<void> {
  await db
    .insertInto('messages')
    .values({ id, received_at: o.at, node: 0, direction: 'inbound', client_ip: o.ip ?? '192.0.2.7', client_helo: 'c', client_ptr: null, tls: null, mail_from: o.from, size: 100, message_id: `<${id}@x>`, subject: o.subject ?? null, spool_file: `${id}.eml`, state: o.state ?? 'queued', parent_id: null, done_at: null })
    .execute();
  for (const [idx, address] of o.to.entries()) {
    await db
      .insertInto('recipients')
      .values({ message_id: id, idx, address, domain: address.slice(address.indexOf('@') + 1), route: 'mx:x', require_tls: 0, status: o.status ?? 'deferred', attempts: 1, first_attempt_at: o.at, next_attempt_at: o.at + 60_000, last_reply: '451 later', updated_at: o.at })
      .execute();
  }
  await db.insertInto('events').values({ message_id: id, at: o.at, type: 'queued', recipient: null, detail: JSON.stringify({ size: 100 }) }).execute();
}

test('queue: scoped list, hold keeps a message from retries until released, all audited', async () => {
  await withDb(async (db) => {
    const t = Date.now() - 3_600_000;
    await seedMessage(db, 'AAAAAAAAAAAA1', { at: t, from: 'x@ext.example', to: ['bob@a.test'] });
    await seedMessage(db, 'AAAAAAAAAAAA2', { at: t + 1, from: 'y@ext.example', to: ['carol@b.test'] });
    assert.deepEqual((await listQueue(db, alice)).items.map((e) => e.id), ['AAAAAAAAAAAA1']);
    assert.equal((await listQueue(db, admin)).items.length, 2);
    await rejects(holdQueued(db, alice, 'AAAAAAAAAAAA2'), 'not_found');
    await rejects(holdQueued(db, auditor, 'AAAAAAAAAAAA1'), 'forbidden');
    assert.equal((await holdQueued(db, alice, 'AAAAAAAAAAAA1')).recipients, 1);
    assert.equal((await listQueue(db, admin, { status: 'held' })).items[0]!.id, 'AAAAAAAAAAAA1');
    assert.equal((await retryQueue(db, admin, null)).recipients, 1, 'retry --all leaves the held message alone');
    await rejects(holdQueued(db, admin, 'AAAAAAAAAAAA1'), 'conflict');
    await releaseQueued(db, admin, 'AAAAAAAAAAAA1');
    const r = await db.selectFrom('recipients').select('next_attempt_at').where('message_id', '=', 'AAAAAAAAAAAA1').executeTakeFirstOrThrow();
    assert.equal(Number(r.next_attempt_at), 0, 'released: due at once');
    await rejects(listQueue(db, admin, { status: 'nope' as 'held' }), 'invalid', 'status');
    assert.deepEqual(await auditActions(db), ['queue.hold', 'queue.retry', 'queue.release']);
  });
});

test('trace: search by each filter, domain scope, cursor pages, timeline', async () => {
  await withDb(async (db) => {
    const t = Date.UTC(2026, 10, 1, 8);
    await seedMessage(db, 'BBBBBBBBBBBB1', { at: t, from: 'Ann@Ext.example', to: ['bob@a.test'], subject: 'Invoice 42', status: 'delivered', state: 'done' });
    await seedMessage(db, 'BBBBBBBBBBBB2', { at: t + 60_000, from: 'eve@ext.example', to: ['carol@b.test'], subject: 'hello', ip: '198.51.100.9' });
    await seedMessage(db, 'BBBBBBBBBBBB3', { at: t + 120_000, from: 'spam@ext.example', to: [], state: 'rejected' });
    const ids = async (q: Parameters<typeof searchTrace>[2], who: Actor = admin) => (await searchTrace(db, who, q)).items.map((m) => m.id);
    assert.deepEqual(await ids({}), ['BBBBBBBBBBBB3', 'BBBBBBBBBBBB2', 'BBBBBBBBBBBB1']);
    assert.deepEqual(await ids({ address: 'ann@ext.example' }), ['BBBBBBBBBBBB1']);
    assert.deepEqual(await ids({ recipient: 'carol@b.test' }), ['BBBBBBBBBBBB2']);
    assert.deepEqual(await ids({ subject: 'invoice' }), ['BBBBBBBBBBBB1']);
    assert.deepEqual(await ids({ messageId: 'BBBBBBBBBBBB2@x' }), ['BBBBBBBBBBBB2']);
    assert.deepEqual(await ids({ queueId: 'bbbbbbbbbbbb1' }), ['BBBBBBBBBBBB1']);
    assert.deepEqual(await ids({ clientIp: '198.51.100.9' }), ['BBBBBBBBBBBB2']);
    assert.deepEqual(await ids({ from: new Date(t + 30_000).toISOString(), to: new Date(t + 90_000).toISOString() }), ['BBBBBBBBBBBB2']);
    assert.deepEqual(await ids({ verdict: 'rejected' }), ['BBBBBBBBBBBB3']);
    assert.deepEqual(await ids({ verdict: 'delivered' }), ['BBBBBBBBBBBB1']);
    assert.deepEqual(await ids({}, alice), ['BBBBBBBBBBBB1']);
    await rejects(searchTrace(db, admin, { verdict: 'maybe' }), 'invalid', 'verdict');
    await rejects(searchTrace(db, admin, { from: 'yesterday-ish' }), 'invalid', 'from');
    const p1 = await searchTrace(db, admin, { limit: 2 });
    const p2 = await searchTrace(db, admin, { limit: 2, cursor: p1.nextCursor! });
    assert.deepEqual(p2.items.map((m) => m.id), ['BBBBBBBBBBBB1']);
    assert.equal(p2.nextCursor, null);
    const detail = await getTrace(db, alice, 'BBBBBBBBBBBB1');
    assert.equal(detail.verdict, 'delivered');
    assert.deepEqual(detail.events.map((e) => e.type), ['queued']);
    assert.deepEqual(detail.events[0]!.detail, { size: 100 });
    await rejects(getTrace(db, alice, 'BBBBBBBBBBBB2'), 'not_found');
    await rejects(searchTrace(db, { ...alice, role: 'helpdesk', domains: null }, {}).then(() => getDomain(db, helpdesk, 'a.test')), 'forbidden');
  });
});

test('dashboard: verdict buckets, top senders, queue size and setup nudges', async () => {
  await withDb(async (db) => {
    const now = Date.now();
    await seedMessage(db, 'CCCCCCCCCCCC1', { at: now - 120_000, from: 'ann@ext.example', to: ['bob@a.test'], status: 'delivered', state: 'done' });
    await seedMessage(db, 'CCCCCCCCCCCC2', { at: now - 60_000, from: 'ann@ext.example', to: ['carol@b.test'] });
    const s = await dashboardStats(db, admin, { hostname: 'localhost', now });
    const total = (v: string) => s.traffic.reduce((n, b) => n + (b.counts[v] ?? 0), 0);
    assert.equal(s.traffic.length, 24);
    assert.deepEqual([total('delivered'), total('deferred')], [1, 1]);
    assert.deepEqual(s.topSenders[0], { address: 'ann@ext.example', messages: 2 });
    assert.deepEqual(s.queue, { messages: 1, recipients: 1, deferred: 1 });
    assert.deepEqual(s.nudges.map((n) => n.code), ['placeholder-hostname', 'no-relay-domain']);
    const mine = await dashboardStats(db, alice, { now });
    assert.deepEqual(mine.topRecipients.map((r) => r.address), ['bob@a.test']);
    assert.equal(mine.quarantine, null);
    assert.ok(isPlaceholderHostname('mail.example.com') && !isPlaceholderHostname('mx1.hermes-seg.org'));
  });
});
