// Message rules: conditions on headers, body, raw body, URLs, sender, recipients, size
// and attachment names (literal or regex, case-insensitive unless asked), all/any,
// negation; matches carry the actions for the decide stage, per recipient when the rule
// judged recipients; rules live in the database (shipped examples disabled) and a
// running gateway's rule store follows changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import PostalMime from 'postal-mime';
import { migrate } from '../../src/db/migrate.ts';
import { configSerial } from '../../src/config/settings.ts';
import { getRule, listRules, removeRule, saveRule, setRuleEnabled } from '../../src/db/repos/message-rules.ts';
import { compileRule, evaluateRules } from '../../src/pipeline/filter/rules/evaluate.ts';
import { RuleMessage } from '../../src/pipeline/filter/rules/message-view.ts';
import { RuleStore } from '../../src/pipeline/filter/rules/rule-store.ts';
import { rulesStage } from '../../src/pipeline/filter/rules/stage.ts';
import { EXAMPLE_RULES, MICROSOFT_REPORT_ADDRESSES } from '../../src/pipeline/filter/rules/examples.ts';
import type { MessageRule, RuleCondition } from '../../src/pipeline/filter/rules/types.ts';
import type { MessageContext } from '../../src/pipeline/context.ts';
import { withDb } from '../helpers/temp-db.ts';

const RAW = Buffer.from(
  [
    'From: "Accounts" <billing@vendor.example>',
    'To: alice@ours.example',
    'Subject: =?UTF-8?B?SW52b2ljZSDDqXTDqQ==?= overdue',
    'X-Mailer: BulkSender 2.0',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/html; charset=utf-8',
    '',
    '<p>Please pay <b>IMMEDIATELY</b> at <a href="https://pay.vendor-billing.example/x?id=1">our portal</a>.</p>',
    '--b1',
    'Content-Type: application/octet-stream; name="Invoice.PDF.js"',
    'Content-Disposition: attachment; filename="Invoice.PDF.js"',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from('alert(1)').toString('base64'),
    '--b1--',
    '',
  ].join('\r\n'),
);

const view = (recipients = ['alice@ours.example'], mailFrom = 'bounce@vendor.example') => new RuleMessage(RAW, () => PostalMime.parse(RAW), { mailFrom, recipients });

function rule(conditions: RuleCondition[], over: Partial<MessageRule> = {}): MessageRule {
  return { name: 'r', description: null, enabled: true, priority: 100, match: 'all', conditions, actions: [{ action: 'score', value: 1 }], ...over };
}

async function matches(conditions: RuleCondition[], over: Partial<MessageRule> = {}, m = view()): Promise<boolean> {
  return (await evaluateRules([compileRule(rule(conditions, over))], m)).length > 0;
}

test('each field and comparison: header (decoded), body text, raw body, URL, sender, recipient, size, attachment name', async () => {
  const yes: RuleCondition[] = [
    { field: 'header', header: 'Subject', op: 'contains', value: 'invoice été' },
    { field: 'header', header: 'x-mailer', op: 'regex', value: '^bulksender \\d' },
    { field: 'body', op: 'contains', value: 'pay immediately' },
    { field: 'rawbody', op: 'contains', value: '<b>IMMEDIATELY</b>' },
    { field: 'rawbody', op: 'contains', value: Buffer.from('alert(1)').toString('base64') },
    { field: 'uri', op: 'regex', value: '^https://[^/]*vendor-billing\\.example/' },
    { field: 'sender', op: 'equals', value: 'BOUNCE@vendor.example' },
    { field: 'recipient', op: 'equals', value: 'alice@ours.example' },
    { field: 'size', op: 'gt', value: 100 },
    { field: 'size', op: 'lt', value: 100_000 },
    { field: 'attachment', op: 'regex', value: '\\.js$' },
  ];
  for (const c of yes) assert.equal(await matches([c]), true, JSON.stringify(c));
  const no: RuleCondition[] = [
    { field: 'header', header: 'Subject', op: 'equals', value: 'invoice' },
    { field: 'header', header: 'X-Missing', op: 'contains', value: 'a' },
    { field: 'body', op: 'contains', value: '<b>' }, // the body text has no markup
    { field: 'uri', op: 'contains', value: 'ours.example' },
    { field: 'sender', op: 'contains', value: 'billing@' },
    { field: 'size', op: 'gt', value: 100_000 },
    { field: 'attachment', op: 'equals', value: 'invoice.pdf' },
  ];
  for (const c of no) assert.equal(await matches([c]), false, JSON.stringify(c));
});

test('case-insensitive by default, exact case on request; negation; all versus any', async () => {
  assert.equal(await matches([{ field: 'body', op: 'contains', value: 'PAY' }]), true);
  assert.equal(await matches([{ field: 'body', op: 'contains', value: 'PAY', caseSensitive: true }]), false);
  assert.equal(await matches([{ field: 'body', op: 'regex', value: 'IMMEDIATELY', caseSensitive: true }]), true);
  assert.equal(await matches([{ field: 'attachment', op: 'regex', value: '\\.exe$', negate: true }]), true);
  assert.equal(await matches([{ field: 'attachment', op: 'regex', value: '\\.js$', negate: true }]), false);
  const one = { field: 'body', op: 'contains', value: 'pay' } as const;
  const other = { field: 'body', op: 'contains', value: 'lottery' } as const;
  assert.equal(await matches([one, other], { match: 'all' }), false);
  assert.equal(await matches([one, other], { match: 'any' }), true);
});

test('matches carry every action of the rule, in rule order; recipient rules name the recipients they hold for', async () => {
  const rules = [
    compileRule(rule([{ field: 'recipient', op: 'equals', value: 'junk@office365.microsoft.com' }], { name: 'ms', actions: [{ action: 'redirect', value: 'admin@ours.example' }] })),
    compileRule(rule([{ field: 'body', op: 'contains', value: 'pay' }], { name: 'pay', actions: [{ action: 'score', value: 2.5 }, { action: 'header', value: 'X-Pay: yes' }] })),
  ];
  const both = await evaluateRules(rules, view(['alice@ours.example', 'junk@office365.microsoft.com']));
  assert.deepEqual(both, [
    { rule: 'ms', action: 'redirect', value: 'admin@ours.example', recipients: ['junk@office365.microsoft.com'] },
    { rule: 'pay', action: 'score', value: 2.5 },
    { rule: 'pay', action: 'header', value: 'X-Pay: yes' },
  ]);
  // When every recipient matches, the match is for the whole message.
  const only = await evaluateRules(rules, view(['junk@office365.microsoft.com']));
  assert.deepEqual(only[0], { rule: 'ms', action: 'redirect', value: 'admin@ours.example' });
});

test('rules about the envelope and size do not parse the message', async () => {
  let parses = 0;
  const m = new RuleMessage(RAW, () => (parses++, PostalMime.parse(RAW)), { mailFrom: 'a@b.example', recipients: ['x@ours.example'] });
  await evaluateRules([compileRule(rule([{ field: 'sender', op: 'contains', value: 'b.example' }, { field: 'size', op: 'gt', value: 1 }]))], m);
  assert.equal(parses, 0);
});

test('the shipped examples are installed disabled, the Microsoft report redirect among them', async () => {
  await withDb(async (db) => {
    const rules = await listRules(db);
    assert.deepEqual(rules.map((r) => r.name).sort(), EXAMPLE_RULES.map((r) => r.name).sort());
    assert.ok(rules.every((r) => !r.enabled));
    const ms = await getRule(db, 'redirect-microsoft-junk-reports');
    assert.deepEqual(ms.conditions.map((c) => c.value), MICROSOFT_REPORT_ADDRESSES);
    assert.equal(ms.match, 'any');
    assert.equal(ms.actions[0]!.action, 'redirect');
    // Running the migration again changes nothing, and keeps an admin's edit.
    await db.updateTable('message_rules').set({ description: 'mine' }).where('name', '=', ms.name).execute();
    await db.deleteFrom('migrations').where('version', '=', 6).execute();
    await migrate(db);
    assert.equal((await getRule(db, ms.name)).description, 'mine');
    assert.equal((await listRules(db)).length, EXAMPLE_RULES.length);
  });
});

test('saving validates with precise errors; changes bump the serial and the rule store follows them', async () => {
  await withDb(async (db) => {
    const bad: Array<[Partial<MessageRule>, RegExp]> = [
      [{ name: 'bad name!' }, /rule name/],
      [{ conditions: [] }, /at least one condition/],
      [{ conditions: [{ field: 'body', op: 'regex', value: '(' }] }, /bad regular expression/],
      [{ conditions: [{ field: 'header', op: 'contains', value: 'x' }] }, /names the header/],
      [{ conditions: [{ field: 'size', op: 'contains', value: 'x' }] }, /gt or lt/],
      [{ conditions: [{ field: 'body', op: 'gt', value: 3 }] }, /compare sizes only/],
      [{ actions: [{ action: 'redirect', value: 'nobody' }] }, /needs an email address/],
      [{ actions: [{ action: 'header', value: 'no colon here' }] }, /Name: value/],
      [{ actions: [{ action: 'score', value: 'lots' }] }, /number of points/],
      [{ actions: [{ action: 'bypass', value: 1 }] }, /takes no value/],
    ];
    for (const [over, re] of bad) await assert.rejects(saveRule(db, rule([{ field: 'body', op: 'contains', value: 'x' }], over)), re, JSON.stringify(over));

    let serial = await configSerial(db);
    const store = new RuleStore(db, () => serial);
    const before = (await store.rules()).length;
    assert.equal(before, 0, 'examples are disabled');
    await saveRule(db, rule([{ field: 'body', op: 'contains', value: 'pay' }], { name: 'pay' }));
    await assert.rejects(saveRule(db, rule([{ field: 'body', op: 'contains', value: 'x' }], { name: 'pay' })), /--replace/);
    assert.equal((await store.rules()).length, 0, 'cached until the serial moves');
    serial = await configSerial(db);
    assert.deepEqual((await store.rules()).map((r) => r.rule.name), ['pay']);
    await setRuleEnabled(db, 'redirect-microsoft-junk-reports', true);
    await removeRule(db, 'pay');
    serial = await configSerial(db);
    assert.deepEqual((await store.rules()).map((r) => r.rule.name), ['redirect-microsoft-junk-reports']);
    await assert.rejects(removeRule(db, 'pay'), /no message rule named "pay"/);
  });
});

test('the rules stage records matches in findings and the trace, and nothing when no rule matches', async () => {
  await withDb(async (db) => {
    await saveRule(db, rule([{ field: 'attachment', op: 'regex', value: '\\.js$' }], { name: 'js', actions: [{ action: 'quarantine' }] }));
    const store = new RuleStore(db, () => 1);
    const stage = rulesStage({ store });
    const events: Array<{ type: string; detail: unknown }> = [];
    const ctx = {
      id: 'X', receivedAt: new Date(), client: { ip: '192.0.2.1', helo: null, ptr: null, tls: null, trusted: false }, direction: 'inbound',
      mailFrom: 'a@vendor.example', recipients: [{ address: 'alice@ours.example', route: 'mx:ours.example', requireTls: false }],
      original: RAW, prepend: [], body: RAW, reject: null, findings: {}, log: undefined as never, trace: (type: string, detail: unknown) => events.push({ type, detail }),
    } as MessageContext;
    await stage.run(ctx);
    assert.deepEqual(ctx.findings.rules, [{ rule: 'js', action: 'quarantine' }]);
    assert.equal(events[0]!.type, 'rules');
    const clean = { ...ctx, original: Buffer.from('Subject: hi\r\n\r\nhello\r\n'), findings: {} } as MessageContext;
    await stage.run(clean);
    assert.deepEqual(clean.findings.rules, []);
  });
});
