// The filter services (policies, rules, file rules, body changes, DKIM/ARC, DNSBL, Bayes):
// what the CLI, the API and the console all call. Validation errors are ServiceErrors
// with field details, domain administrators stay within their domains, every change
// leaves an audit entry in its transaction, and DKIM private keys never leave sealed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withDb } from '../helpers/temp-db.ts';
import type { Db } from '../../src/db/database.ts';
import { ensureMasterKey, loadMasterKey } from '../../src/keys/master-key.ts';
import { generateDkimKey } from '../../src/pipeline/sign/dkim-keys.ts';
import { cliActor, type Actor } from '../../src/services/actor.ts';
import { listAudit } from '../../src/services/audit-service.ts';
import { ServiceError } from '../../src/services/service-error.ts';
import { assignFilterPolicy, createFilterPolicy, listPolicyAssignments, updateFilterPolicy } from '../../src/services/filter-policy-service.ts';
import { disableMessageRule, saveMessageRule, testOneRule } from '../../src/services/rules-service.ts';
import { addRule, createRuleSet, deleteRuleSet } from '../../src/services/filerules-service.ts';
import { addBodyRule, previewBodyChanges, saveBodyTemplate } from '../../src/services/body-service.ts';
import { dnsRecords, generateKey, importKey, listKeys, removeKey, setArc } from '../../src/services/dkim-service.ts';
import { updateDnsbl } from '../../src/services/dnsbl-service.ts';
import { bayesStats, learnMessages } from '../../src/services/bayes-service.ts';
import { upsertRelayDomain } from '../../src/db/repos/relay-policy.ts';

const admin = cliActor();
const auditor: Actor = { kind: 'user', id: '2', name: 'audrey', role: 'auditor', domains: null };
const corpAdmin: Actor = { kind: 'user', id: '3', name: 'carl', role: 'domain-admin', domains: ['corp.test'] };

async function rejects(p: Promise<unknown>, code: string, field?: string): Promise<ServiceError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ServiceError, `a ServiceError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (field) assert.ok(err.details && field in err.details, `details name ${field}: ${JSON.stringify(err.details)}`);
    return err;
  }
  assert.fail(`expected a ${code} ServiceError`);
}

async function auditActions(db: Db): Promise<string[]> {
  return (await listAudit(db, admin, { limit: 500 })).items.map((e) => e.action).reverse();
}

function withMasterKey(fn: (mk: ReturnType<typeof loadMasterKey>) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hermes-mk-'));
  ensureMasterKey(join(dir, 'master.key'));
  return fn(loadMasterKey(join(dir, 'master.key'))).finally(() => rmSync(dir, { recursive: true, force: true }));
}

test('policies: validation is field-level, thresholds must rise, and each change is audited with before and after', async () => {
  await withDb(async (db) => {
    await rejects(createFilterPolicy(db, admin, 'Bad Name!'), 'invalid', 'name');
    await rejects(createFilterPolicy(db, admin, 'x', { spamAction: 'explode' as never }), 'invalid', 'spamAction');
    await rejects(createFilterPolicy(db, admin, 'x', { fileRules: 'nope' }), 'invalid', 'fileRules');
    await rejects(createFilterPolicy(db, admin, 'x', { tagScore: 9, quarantineScore: 3 }), 'invalid');
    const p = await createFilterPolicy(db, admin, 'strict', { tagScore: 1, quarantineScore: 3, rejectScore: 8 });
    assert.equal(p.quarantineScore, 3);
    await rejects(createFilterPolicy(db, admin, 'strict'), 'conflict');
    await rejects(updateFilterPolicy(db, admin, 'missing', { tagScore: 1 }), 'not_found');
    await updateFilterPolicy(db, admin, 'strict', { rejectScore: 9 });
    const [upd] = (await listAudit(db, admin, { action: 'filter-policy.update' })).items;
    assert.equal((upd!.before as { rejectScore: number }).rejectScore, 8);
    assert.equal((upd!.after as { rejectScore: number }).rejectScore, 9);
    assert.equal(upd!.actor.name, admin.name);
    // A failed change leaves no entry: the entry shares the change's transaction.
    await rejects(updateFilterPolicy(db, admin, 'strict', { tagScore: 50 }), 'invalid');
    assert.deepEqual(await auditActions(db), ['filter-policy.create', 'filter-policy.update']);
  });
});

test('policy assignment: a domain administrator assigns within its domains only, and sees only their assignments', async () => {
  await withDb(async (db) => {
    await createFilterPolicy(db, admin, 'strict');
    await assignFilterPolicy(db, admin, 'other.test', 'strict');
    const a = await assignFilterPolicy(db, corpAdmin, 'ceo@corp.test', 'strict');
    assert.deepEqual(a, { scope: 'recipient', target: 'ceo@corp.test', policy: 'strict' });
    await assignFilterPolicy(db, corpAdmin, 'sales.corp.test', 'strict');
    await rejects(assignFilterPolicy(db, corpAdmin, 'boss@other.test', 'strict'), 'forbidden');
    await rejects(assignFilterPolicy(db, corpAdmin, 'default', 'strict'), 'forbidden');
    await rejects(createFilterPolicy(db, corpAdmin, 'mine'), 'forbidden');
    await rejects(assignFilterPolicy(db, auditor, 'corp.test', 'strict'), 'forbidden');
    const own = await listPolicyAssignments(db, corpAdmin);
    assert.deepEqual(own.items.map((x) => x.target).sort(), ['ceo@corp.test', 'sales.corp.test']);
    const all = await listPolicyAssignments(db, admin, { limit: 2 });
    assert.equal(all.items.length, 2);
    const rest = await listPolicyAssignments(db, admin, { cursor: all.nextCursor!, limit: 2 });
    assert.equal(all.items.length + rest.items.length, 4); // three above and the default
    const entries = (await listAudit(db, admin, { action: 'filter-policy.assign' })).items;
    assert.deepEqual(entries.map((e) => e.domain).reverse(), ['other.test', 'corp.test', 'sales.corp.test']);
  });
});

test('rules: an unsaved rule is tested on a message and says which conditions held; changes are audited', async () => {
  await withDb(async (db) => {
    await rejects(saveMessageRule(db, admin, { name: 'r', conditions: [], actions: [{ action: 'quarantine' }] }), 'invalid', 'rule');
    const rule = { name: 'invoices', conditions: [{ field: 'header' as const, header: 'Subject', op: 'regex' as const, value: '\\binvoice\\b' }, { field: 'body' as const, op: 'contains' as const, value: 'urgent' }], actions: [{ action: 'score' as const, value: 3 }] };
    const msg = 'From: a@x.test\nTo: b@corp.test\nSubject: Your invoice\n\nPlease pay, it is urgent.\n';
    const r = await testOneRule(db, admin, rule, msg);
    assert.equal(r.matched, true);
    assert.deepEqual(r.conditions.map((c) => c.held), [true, true]);
    assert.deepEqual(r.actions, [{ action: 'score', value: 3 }]);
    const miss = await testOneRule(db, admin, rule, msg.replace('urgent', 'calm'));
    assert.equal(miss.matched, false);
    assert.deepEqual(miss.conditions.map((c) => c.held), [true, false]);
    await saveMessageRule(db, admin, rule);
    await rejects(saveMessageRule(db, admin, rule), 'conflict');
    assert.equal((await testOneRule(db, auditor, { name: 'invoices' }, msg)).matched, true);
    await rejects(disableMessageRule(db, auditor, 'invoices'), 'forbidden');
    await disableMessageRule(db, admin, 'invoices');
    await rejects(disableMessageRule(db, admin, 'nope'), 'not_found');
    assert.deepEqual(await auditActions(db), ['rule.create', 'rule.disable']);
  });
});

test('file rule sets and body changes: validation, audit, and a preview of what the disclaimer does', async () => {
  await withDb(async (db) => {
    await createRuleSet(db, admin, 'strict', { copyFrom: 'default' });
    await rejects(addRule(db, admin, 'strict', { name: 'x', kind: 'nonsense' as never, values: [], action: 'ban', inArchives: true, description: '' }), 'invalid', 'rule');
    await rejects(deleteRuleSet(db, admin, 'default'), 'conflict');
    await rejects(createRuleSet(db, admin, 'strict'), 'conflict');
    await upsertRelayDomain(db, { domain: 'corp.test', nextHop: '127.0.0.1:25' });
    await rejects(saveBodyTemplate(db, admin, 'disclaimer', { name: 'legal' }), 'invalid', 'text');
    await saveBodyTemplate(db, admin, 'disclaimer', { name: 'legal', text: 'Confidential: for the addressee only.' });
    await rejects(addBodyRule(db, admin, 'disclaimer', { template: 'legal', scope: 'planet' }), 'invalid', 'scope');
    await addBodyRule(db, admin, 'disclaimer', { template: 'legal', scope: 'domain', value: 'corp.test' });
    const p = await previewBodyChanges(db, auditor, { message: 'From: ann@corp.test\nTo: bob@else.test\nSubject: hi\n\nHello.\n', from: 'ann@corp.test', to: ['bob@else.test'] });
    assert.equal(p.direction, 'outbound');
    assert.equal(p.changed, true);
    assert.match(p.message.toString(), /Confidential: for the addressee only\./);
    assert.ok(p.changes && 'disclaimer' in p.changes);
    assert.deepEqual(await auditActions(db), ['filerules.create', 'disclaimer.template.save', 'disclaimer.rule.save']);
  });
});

test('DKIM: domain scope, the DNS record to publish, and no private key material in any result or audit entry', async () => {
  await withDb(async (db) => {
    await withMasterKey(async (mk) => {
      const k = await generateKey(db, corpAdmin, mk, { domain: 'corp.test', selector: 's1', algorithm: 'ed25519' });
      assert.equal(k.status, 'active');
      assert.match(k.dnsValue, /^v=DKIM1; k=ed25519; p=/);
      assert.equal(k.dnsName, 's1._domainkey.corp.test');
      await rejects(generateKey(db, corpAdmin, mk, { domain: 'other.test', algorithm: 'ed25519' }), 'forbidden');
      await rejects(generateKey(db, admin, mk, { domain: 'corp.test', selector: 'bad selector!', algorithm: 'ed25519' }), 'invalid', 'selector');
      await rejects(importKey(db, admin, mk, { domain: 'corp.test', selector: 's2', privateKeyPem: 'not a key' }), 'invalid', 'privateKey');
      const pem = (await generateDkimKey('rsa-sha256', 1024)).privateKeyPem;
      await importKey(db, admin, mk, { domain: 'other.test', selector: 'o1', privateKeyPem: pem });
      assert.deepEqual((await listKeys(db, corpAdmin)).map((x) => x.domain), ['corp.test']);
      await rejects(dnsRecords(db, corpAdmin, 'other.test'), 'forbidden');
      assert.equal((await dnsRecords(db, admin, 'other.test')).publish[0]!.selector, 'o1');
      await rejects(setArc(db, admin, { enabled: true, domain: 'corp.test', selector: 's1' }), 'invalid', 'selector'); // Ed25519 cannot seal
      await setArc(db, admin, { enabled: true, domain: 'other.test', selector: 'o1' });
      await rejects(setArc(db, corpAdmin, { enabled: false }), 'forbidden');
      await rejects(removeKey(db, admin, 'corp.test', 's1'), 'conflict');
      await removeKey(db, corpAdmin, 'corp.test', 's1', { force: true });
      const entries = (await listAudit(db, admin, { limit: 500 })).items;
      assert.deepEqual(entries.map((e) => e.action).reverse(), ['dkim.generate', 'dkim.import', 'arc.set', 'dkim.remove']);
      const text = JSON.stringify(entries) + JSON.stringify(await listKeys(db, admin));
      assert.doesNotMatch(text, /PRIVATE KEY|privateKey|private_key/);
      assert.ok(!text.includes(pem.split('\n')[1]!));
    });
  });
});

test('DNSBL settings and Bayes training: validated, audited; training is for administrators', async () => {
  await withDb(async (db) => {
    await rejects(updateDnsbl(db, admin, { budgetMs: -5 }), 'invalid', 'budgetMs');
    await rejects(updateDnsbl(db, admin, { colour: 'red' } as never), 'invalid', 'colour');
    assert.deepEqual((await updateDnsbl(db, admin, { rejectZones: ['ZEN.Spamhaus.org'] })).rejectZones, ['zen.spamhaus.org']);
    await rejects(learnMessages(db, corpAdmin, 'spam', [Buffer.from('Subject: x\r\n\r\nbuy\r\n')]), 'forbidden');
    await rejects(learnMessages(db, admin, 'eggs', []), 'invalid', 'as');
    const r = await learnMessages(db, admin, 'spam', [Buffer.from('From: a@b.test\r\nSubject: cheap pills\r\n\r\nbuy cheap pills now\r\n')]);
    assert.equal(r.learned, 1);
    assert.equal((await bayesStats(db, corpAdmin)).spamMessages, 1);
    assert.deepEqual(await auditActions(db), ['dnsbl.update', 'bayes.learn-spam']);
  });
});
