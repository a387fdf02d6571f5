// Filter policies and allow/block lists: stored through the repositories (with their
// validation), loaded as the gateway loads them, and resolved per recipient.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { migrate } from '../../src/db/migrate.ts';
import { configSerial } from '../../src/config/settings.ts';
import { assignPolicy, createPolicy, deletePolicy, unassignPolicy, updatePolicy } from '../../src/db/repos/filter-policies.ts';
import { addListEntry, removeListEntry } from '../../src/db/repos/lists.ts';
import { loadFilterConfig } from '../../src/pipeline/decide/filter-config.ts';
import { FilterLists, type ListSubject } from '../../src/pipeline/decide/lists.ts';
import { withDb } from '../helpers/temp-db.ts';

test('after migration a default policy with Hermes thresholds applies to everyone', async () => {
  await withDb(async (db) => {
    await migrate(db); // running again changes nothing
    const cfg = await loadFilterConfig(db, 0);
    const r = cfg.policies.resolve('anyone@example.com');
    assert.equal(r.via, 'default');
    assert.deepEqual(
      { name: r.policy.name, tag: r.policy.tagScore, q: r.policy.quarantineScore, rej: r.policy.rejectScore, tagText: r.policy.subjectTag },
      { name: 'default', tag: 2, q: 5, rej: 15, tagText: '[SUSPECTED SPAM]' },
    );
    assert.deepEqual(r.policy.actions, { spam: 'quarantine', malware: 'reject', banned: 'reject', badheader: 'deliver' });
  });
});

test('policy resolution: recipient over domain over parent domain over default; edits bump the config serial', async () => {
  await withDb(async (db) => {
    const s0 = await configSerial(db);
    await createPolicy(db, 'strict', { tagScore: 1, quarantineScore: 3, rejectScore: 8 });
    await createPolicy(db, 'lenient', { tagScore: 5, quarantineScore: 10, rejectScore: null, spamAction: 'tag' });
    await assignPolicy(db, 'corp.example', 'lenient');
    await assignPolicy(db, 'CEO@corp.example', 'strict');
    assert.ok((await configSerial(db)) > s0);
    const cfg = await loadFilterConfig(db, 1);
    const who = (a: string) => { const r = cfg.policies.resolve(a); return `${r.policy.name} via ${r.via}`; };
    assert.equal(who('ceo@corp.example'), 'strict via recipient ceo@corp.example');
    assert.equal(who('Bob@Corp.Example'), 'lenient via domain corp.example');
    assert.equal(who('eve@eu.corp.example'), 'lenient via domain corp.example');
    assert.equal(who('x@other.example'), 'default via default');

    await assignPolicy(db, 'default', 'strict');
    assert.equal((await loadFilterConfig(db, 2)).policies.resolve('x@other.example').policy.name, 'strict');
    await unassignPolicy(db, 'ceo@corp.example');
    assert.equal((await loadFilterConfig(db, 3)).policies.resolve('ceo@corp.example').policy.name, 'lenient');
  });
});

test('policy validation: rising thresholds, known actions, assigned policies cannot be deleted', async () => {
  await withDb(async (db) => {
    await assert.rejects(createPolicy(db, 'bad', { tagScore: 6, quarantineScore: 5 }), /thresholds must rise/);
    await assert.rejects(createPolicy(db, 'bad', { spamAction: 'explode' as 'tag' }), /spam action must be one of/);
    await assert.rejects(createPolicy(db, 'Bad Name!'), /invalid policy name/);
    await createPolicy(db, 'p1');
    await assert.rejects(createPolicy(db, 'P1'), /exists already/);
    await assert.rejects(updatePolicy(db, 'p1', { rejectScore: 1 }), /thresholds must rise/);
    await assert.rejects(assignPolicy(db, 'a@b.example', 'nope'), /no policy nope/);
    await assignPolicy(db, 'a@b.example', 'p1');
    await assert.rejects(deletePolicy(db, 'p1'), /is assigned \(recipient a@b.example\)/);
    await assert.rejects(unassignPolicy(db, 'default'), /cannot be removed/);
    await unassignPolicy(db, 'a@b.example');
    await deletePolicy(db, 'p1');
  });
});

function subject(over: Partial<ListSubject> = {}): ListSubject {
  return { mailFrom: 'news@mail.vendor.example', clientIp: '198.51.100.7', fromAddresses: ['news@vendor.example'], recipients: ['alice@corp.example', 'bob@corp.example'], ...over };
}

test('lists: levels recipient > domain > global, allow beats block within a level, allow-all for everyone', async () => {
  await withDb(async (db) => {
    await addListEntry(db, { list: 'block', value: 'vendor.example' });
    await addListEntry(db, { list: 'allow', value: '*@vendor.example', owner: 'alice@corp.example' });
    await addListEntry(db, { list: 'block', value: '203.0.113.0/24' });
    await addListEntry(db, { list: 'recipient-allow', value: 'abuse@corp.example' });
    await addListEntry(db, { list: 'allow-all', value: '192.0.2.10' });
    await assert.rejects(addListEntry(db, { list: 'allow-all', value: 'x.example', owner: 'alice@corp.example' }), /global/);
    await assert.rejects(addListEntry(db, { list: 'greylist', value: 'x.example' }), /unknown list/);
    await assert.rejects(addListEntry(db, { list: 'block', value: '10.0.0.0/99' }), /prefix/);
    const { lists } = await loadFilterConfig(db, 0);

    // The global block list catches the sender's subdomain; Alice's own allow wins for her.
    let v = lists.evaluate(subject());
    assert.equal(v.allowAll, null);
    assert.match(v.recipients.get('alice@corp.example')!.skipSpam!, /alice@corp.example's allow entry vendor.example/);
    assert.equal(v.recipients.get('alice@corp.example')!.block, null);
    assert.match(v.recipients.get('bob@corp.example')!.block!, /global block entry vendor.example/);

    // Networks; a recipient on the recipient-allow list skips spam checks whoever sends.
    v = lists.evaluate(subject({ mailFrom: 'x@elsewhere.example', fromAddresses: [], clientIp: '203.0.113.9', recipients: ['abuse@corp.example', 'carol@corp.example'] }));
    assert.match(v.recipients.get('abuse@corp.example')!.skipSpam!, /recipient-allow/);
    assert.match(v.recipients.get('carol@corp.example')!.block!, /client 203.0.113.9/);

    // allow-all: every check skipped for every recipient.
    v = lists.evaluate(subject({ clientIp: '192.0.2.10' }));
    assert.match(v.allowAll!, /client 192.0.2.10 matches global allow-all/);

    await removeListEntry(db, { list: 'block', value: 'vendor.example' });
    assert.equal((await loadFilterConfig(db, 1)).lists.evaluate(subject()).recipients.get('bob@corp.example')!.block, null);
  });
});

test('lists: the From header allows only with a DMARC pass for its domain, blocks always; the null sender never matches', () => {
  const lists = new FilterLists([
    { list: 'allow', owner: '', kind: 'domain', value: 'bank.example' },
    { list: 'block', owner: '', kind: 'address', value: 'ceo@fraud.example' },
  ]);
  const base = { mailFrom: 'bounce@mailer.example', clientIp: '198.51.100.1', recipients: ['a@corp.example'] };
  const r = (s: ListSubject) => s.recipients.map((x) => lists.evaluate(s).recipients.get(x)!)[0]!;
  assert.equal(r({ ...base, fromAddresses: ['alerts@bank.example'] }).skipSpam, null, 'forged From: no allow');
  assert.match(r({ ...base, fromAddresses: ['alerts@bank.example'], dmarcPassDomain: 'bank.example' }).skipSpam!, /DMARC pass/);
  assert.match(r({ ...base, fromAddresses: ['CEO@fraud.example'] }).block!, /From ceo@fraud.example/);
  const nul = r({ ...base, mailFrom: '', fromAddresses: [] });
  assert.deepEqual(nul, { skipSpam: null, block: null });
});

test('bayes learn input: an mbox splits into its messages (">From " unescaped), a plain file is one message', async () => {
  const { splitMessages } = await import('../../src/cli/bayes-commands.ts');
  const mbox = Buffer.from('From a@x Mon Jan  1 00:00:00 2024\nSubject: one\n\nbody 1\n>From the start\n\nFrom b@y Mon Jan  1 00:00:01 2024\nSubject: two\n\nbody 2\n');
  const msgs = splitMessages(mbox).map((b) => b.toString());
  assert.equal(msgs.length, 2);
  assert.equal(msgs[0], 'Subject: one\n\nbody 1\nFrom the start\n');
  assert.equal(msgs[1], 'Subject: two\n\nbody 2\n');
  const plain = Buffer.from('Subject: x\r\n\r\nFrom here on\r\n');
  assert.deepEqual(splitMessages(plain), [plain]);
});

test('lists at RCPT: only a recipient\'s (or its domain\'s) own block refuses that recipient; global blocks wait for DATA', () => {
  const lists = new FilterLists([
    { list: 'block', owner: 'alice@corp.example', kind: 'domain', value: 'pushy.example' },
    { list: 'block', owner: 'corp.example', kind: 'network', value: '203.0.113.0/24' },
    { list: 'allow', owner: 'bob@corp.example', kind: 'network', value: '203.0.113.5/32' },
    { list: 'block', owner: '', kind: 'domain', value: 'spam.example' },
    { list: 'allow-all', owner: '', kind: 'address', value: 'ceo@pushy.example' },
  ]);
  const at = (mailFrom: string, clientIp: string, rcpt: string) => lists.blockAtRcpt({ mailFrom, clientIp }, rcpt);
  assert.match(at('sales@news.pushy.example', '198.51.100.1', 'alice@corp.example')!, /alice@corp.example's block entry pushy.example/);
  assert.equal(at('sales@news.pushy.example', '198.51.100.1', 'carol@corp.example'), null);
  assert.match(at('x@y.example', '203.0.113.9', 'carol@corp.example')!, /corp.example's block network/);
  assert.equal(at('x@y.example', '203.0.113.5', 'bob@corp.example'), null, "bob's own allow wins over his domain's block");
  assert.equal(at('x@spam.example', '198.51.100.1', 'alice@corp.example'), null, 'global: decided at DATA');
  assert.equal(at('ceo@pushy.example', '198.51.100.1', 'alice@corp.example'), null, 'allow-all');
});
