// The decide stage and the fork: per-recipient fates from findings, policies and lists;
// one SMTP reply for the message; copies with their own headers; later stages once per copy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { SETTINGS_DEFAULTS, type Settings } from '../../src/config/settings.ts';
import type { MessageContext, Stage } from '../../src/pipeline/context.ts';
import { Pipeline, finalMessage } from '../../src/pipeline/pipeline.ts';
import { decideStage } from '../../src/pipeline/decide/decide-stage.ts';
import { FilterLists, type ListEntry } from '../../src/pipeline/decide/lists.ts';
import { PolicyMap, BUILTIN_DEFAULT_POLICY, type FilterPolicy } from '../../src/pipeline/decide/policy.ts';
import type { FilterConfig } from '../../src/pipeline/decide/filter-config.ts';
import type { FilterFindings } from '../../src/pipeline/filter/findings.ts';
import { stripVerdictHeaders, tagSubject } from '../../src/pipeline/decide/tagging.ts';
import { listsStage } from '../../src/pipeline/decide/lists-stage.ts';
import { Autolearner, autolearnClass } from '../../src/pipeline/filter/autolearn.ts';

const log = pino({ level: 'silent' });
const RAW = 'From: Sender <s@outside.example>\r\nTo: team@corp.example\r\nSubject: Quarterly numbers\r\nX-Spam-Flag: NO\r\nX-Spam-Status: No, forged\r\n\tby the sender\r\nMessage-ID: <m1@outside.example>\r\n\r\nHello.\r\n';

const policy = (name: string, p: Partial<FilterPolicy> = {}): FilterPolicy => ({ ...BUILTIN_DEFAULT_POLICY, name, ...p, actions: { ...BUILTIN_DEFAULT_POLICY.actions, ...(p.actions ?? {}) } });
const POLICIES = [
  policy('default'),
  policy('lenient', { tagScore: 5, quarantineScore: 10, rejectScore: null, subjectTag: '[SPAM?]' }),
  policy('strict', { tagScore: 1, quarantineScore: 3, rejectScore: 6, actions: { spam: 'quarantine', malware: 'discard', banned: 'reject', badheader: 'quarantine' } }),
];
const ASSIGN = [
  { scope: 'default', target: '', policy: 'default' },
  { scope: 'recipient', target: 'bob@corp.example', policy: 'lenient' },
  { scope: 'recipient', target: 'carol@corp.example', policy: 'strict' },
];

function config(entries: ListEntry[] = []): FilterConfig {
  return { serial: 1, policies: new PolicyMap(POLICIES, ASSIGN), lists: new FilterLists(entries) };
}

interface Ctx extends MessageContext {
  events: Array<{ type: string; detail: any }>;
}

function context(recipients: string[], findings: FilterFindings = {}, over: Partial<MessageContext> = {}): Ctx {
  const events: Ctx['events'] = [];
  const raw = Buffer.from(RAW);
  return {
    id: 'Q1', receivedAt: new Date(), client: { ip: '198.51.100.7', helo: 'mx.outside.example', ptr: null, tls: null, trusted: false },
    direction: 'inbound', mailFrom: 's@outside.example', recipients: recipients.map((address) => ({ address, route: 'host:127.0.0.1:25', requireTls: false })),
    original: raw, prepend: [], body: raw, reject: null, findings, log, events,
    trace: (type, detail) => events.push({ type, detail }), ...over,
  } as Ctx;
}

const spam = (score: number, extra: { name: string; score: number }[] = []) => ({
  score, errors: [], symbols: [{ name: 'SOME_RULE', score: score - extra.reduce((s, x) => s + x.score, 0), description: 'x' }, ...extra.map((e) => ({ ...e, description: 'x' }))],
});

function stage(o: { entries?: ListEntry[]; settings?: Partial<Settings>; canHold?: boolean } = {}) {
  return decideStage({
    config: async () => config(o.entries),
    settings: () => ({ ...SETTINGS_DEFAULTS, ...o.settings }) as Settings,
    canHold: () => o.canHold ?? true,
    routeFor: () => ({ route: 'host:127.0.0.1:25', requireTls: false }),
  });
}

/** Runs lists + decide, then a per-copy stage that records each copy; returns the copies. */
async function run(ctx: Ctx, o: Parameters<typeof stage>[0] = {}) {
  const seen: string[] = [];
  const perCopy: Stage = { name: 'sign', run: (c) => void seen.push(c.recipients.map((r) => r.address).join(',')) };
  const copies = await new Pipeline([listsStage({ config: async () => config(o.entries) }), stage(o)], [perCopy]).run(ctx);
  assert.equal(seen.length, copies.length, 'the per-copy stages ran once per copy');
  return copies.map((c) => ({
    to: c.recipients.map((r) => r.address),
    hold: c.hold ?? null,
    text: Buffer.concat(finalMessage(c)).toString('latin1'),
  }));
}

const fates = (ctx: Ctx) => Object.fromEntries(ctx.events.filter((e) => e.type === 'policy').map((e) => [e.detail.recipient, e.detail.fate]));

test('clean mail: one copy with X-Spam-Score and X-Spam-Status, forged X-Spam headers removed', async () => {
  const ctx = context(['alice@corp.example'], { spam: spam(0.4) });
  const [c, ...rest] = await run(ctx);
  assert.equal(rest.length, 0);
  assert.match(c!.text, /^X-Spam-Score: 0.4\r\nX-Spam-Status: No, score=0.4 tests=SOME_RULE=0.4\r\n/);
  assert.doesNotMatch(c!.text, /X-Spam-Flag|forged|by the sender/);
  assert.match(c!.text, /\r\nSubject: Quarterly numbers\r\n/);
  assert.deepEqual(fates(ctx), { 'alice@corp.example': 'delivered' });
});

test('default policy levels: tag at 2, quarantine at 5, reject at 15 (550 5.7.1)', async () => {
  let ctx = context(['alice@corp.example'], { spam: spam(3.1) });
  let [c] = await run(ctx);
  assert.match(c!.text, /X-Spam-Flag: YES\r\n/);
  assert.match(c!.text, /X-Spam-Status: Yes, score=3.1/);
  // Below the quarantine level tagging is headers only: the Subject is left alone.
  assert.match(c!.text, /\r\nSubject: Quarterly numbers\r\n/, 'the subject is tagged only from the quarantine level');

  ctx = context(['alice@corp.example'], { spam: spam(7) });
  [c] = await run(ctx);
  assert.equal(c!.hold?.category, 'spam');
  assert.match(c!.hold!.reason, /spam score 7 >= 5 \(policy default\)/);
  assert.doesNotMatch(c!.text, /SUSPECTED SPAM/, 'a held copy keeps its subject');

  ctx = context(['alice@corp.example'], { spam: spam(15.2) });
  assert.deepEqual(await run(ctx), []);
  assert.deepEqual(ctx.reject, { code: 550, enhanced: '5.7.1', message: 'Message rejected as spam (score 15.2)' });
  assert.deepEqual(fates(ctx), { 'alice@corp.example': 'rejected' });
});

test('mixed recipients: each gets its own fate; a reject among accepting recipients becomes a hold', async () => {
  // score 7: alice (default) quarantine, bob (lenient) tagged with his own prefix, carol (strict, reject at 6) held instead of rejected.
  const ctx = context(['alice@corp.example', 'bob@corp.example', 'carol@corp.example', 'dave@corp.example'], { spam: spam(7) });
  const copies = await run(ctx);
  assert.equal(ctx.reject, null);
  assert.deepEqual(fates(ctx), { 'alice@corp.example': 'quarantined', 'bob@corp.example': 'tagged', 'carol@corp.example': 'quarantined', 'dave@corp.example': 'quarantined' });
  const delivered = copies.filter((c) => !c.hold);
  assert.equal(delivered.length, 1);
  assert.deepEqual(delivered[0]!.to, ['bob@corp.example']);
  // bob's tag level (5) was reached, his quarantine level (10) not: headers, no subject tag.
  assert.match(delivered[0]!.text, /X-Spam-Flag: YES\r\n/, 'tagged in the headers');
  assert.match(delivered[0]!.text, /\r\nSubject: Quarterly/, 'subject not tagged below the quarantine level');
  const held = copies.filter((c) => c.hold);
  assert.deepEqual(held.map((c) => c.to).sort(), [['alice@corp.example', 'dave@corp.example'], ['carol@corp.example']]);
  const carol = held.find((c) => c.to[0] === 'carol@corp.example')!;
  assert.match(carol.hold!.reason, /reject level 6 \(policy strict\); held instead of rejected/);
  const ev = ctx.events.find((e) => e.type === 'policy' && e.detail.recipient === 'carol@corp.example')!;
  assert.equal(ev.detail.policy, 'strict');
});

test('malware: the most severe action wins; every recipient rejecting or discarding refuses the message', async () => {
  const malware = { infected: [{ engine: 'builtin' as const, name: 'Eicar-Signature', where: 'eicar.com' }], errors: [] };
  let ctx = context(['alice@corp.example', 'carol@corp.example'], { malware, spam: spam(0) });
  assert.deepEqual(await run(ctx), []);
  assert.match(ctx.reject!.message, /contains malware \(Eicar-Signature in eicar.com\)/);
  assert.deepEqual(fates(ctx), { 'alice@corp.example': 'rejected', 'carol@corp.example': 'discarded' });

  // carol alone: her policy discards: accepted (250) and no copy at all.
  ctx = context(['carol@corp.example'], { malware, spam: spam(0) });
  assert.deepEqual(await run(ctx), []);
  assert.equal(ctx.reject, null);
  assert.equal(ctx.copies?.length, 0);
  assert.deepEqual(fates(ctx), { 'carol@corp.example': 'discarded' });
});

test('banned attachments count only for the rule set of the recipient\'s policy', async () => {
  const banned = [{ filename: 'invoice.pdf.exe', ruleSet: 'default', rule: 'double-extension', reason: 'double extension .pdf.exe' }];
  const ctx = context(['alice@corp.example'], { banned, spam: spam(0) });
  await run(ctx);
  assert.match(ctx.reject!.message, /invoice.pdf.exe \(double extension .pdf.exe\) is not allowed/);
});

test('lists: a block for everyone is 554 before decide; a block for some is a hold; allow skips spam; allow-all skips everything', async () => {
  const entries: ListEntry[] = [
    { list: 'block', owner: 'alice@corp.example', kind: 'domain', value: 'outside.example' },
    { list: 'allow', owner: 'bob@corp.example', kind: 'address', value: 's@outside.example' },
  ];
  let ctx = context(['alice@corp.example'], { spam: spam(0) });
  await run(ctx, { entries });
  assert.deepEqual(ctx.reject, { code: 554, enhanced: '5.7.1', message: 'Message refused: the sender is blocked' });

  ctx = context(['alice@corp.example', 'bob@corp.example'], { spam: spam(9) });
  const copies = await run(ctx, { entries });
  assert.deepEqual(fates(ctx), { 'alice@corp.example': 'quarantined', 'bob@corp.example': 'delivered' });
  const bob = copies.find((c) => !c.hold)!;
  assert.match(bob.text, /X-Spam-Status: No, score=9 \(not acted on: envelope sender matches bob@corp.example's allow entry s@outside.example\)/);

  const malware = { infected: [{ engine: 'builtin' as const, name: 'Eicar-Signature', where: 'x' }], errors: [] };
  ctx = context(['alice@corp.example'], { malware });
  const all = await run(ctx, { entries: [{ list: 'allow-all', owner: '', kind: 'network', value: '198.51.100.0/24' }] });
  assert.equal(ctx.reject, null);
  assert.equal(all.length, 1);
  assert.match(all[0]!.text, /X-Spam-Status: No, skipped \(client 198.51.100.7 matches global allow-all network\)/);
});

test('scanner errors: 451 4.7.1 by default (malware.onError), carry on when set to accept', async () => {
  const malware = { infected: [], errors: [{ engine: 'clamd', error: 'connect ENOENT /run/clamd.sock' }] };
  let ctx = context(['alice@corp.example'], { malware, spam: spam(0) });
  await run(ctx);
  assert.deepEqual(ctx.reject, { code: 451, enhanced: '4.7.1', message: 'Temporary failure scanning the message for malware; please try again later' });
  ctx = context(['alice@corp.example'], { malware, spam: spam(0) });
  assert.equal((await run(ctx, { settings: { 'malware.onError': 'accept' } as Partial<Settings> })).length, 1);
  assert.equal(ctx.reject, null);
});

test('DMARC quarantine holds the message; without a quarantine store a hold is delivered tagged', async () => {
  const auth = { verdict: { from: { addresses: ['s@outside.example'] }, dmarc: { result: 'fail' } } as never, decision: { action: 'quarantine' as const, reasons: ['DMARC fail, p=quarantine'] } };
  let ctx = context(['alice@corp.example'], { spam: spam(0) }, { auth });
  let [c] = await run(ctx);
  assert.equal(c!.hold?.category, 'auth');
  ctx = context(['alice@corp.example'], { spam: spam(6) });
  [c] = await run(ctx, { canHold: false });
  assert.equal(c!.hold, null);
  assert.match(c!.text, /X-Spam-Flag: YES/);
  assert.match(ctx.events.find((e) => e.type === 'policy')!.detail.reason, /no quarantine store/);
});

test('sender authentication tag (auth.dmarcQuarantine=tag): the copy is tagged like spam, with the recipient policy\'s subject tag', async () => {
  const auth = { verdict: { from: { addresses: ['s@outside.example'] }, dmarc: { result: 'fail' } } as never, decision: { action: 'tag' as const, reasons: ['DMARC fail for outside.example, p=quarantine: tagged'] } };
  const ctx = context(['alice@corp.example', 'bob@corp.example'], { spam: spam(0) }, { auth });
  const copies = await run(ctx);
  assert.deepEqual(fates(ctx), { 'alice@corp.example': 'tagged', 'bob@corp.example': 'tagged' });
  const byTo = Object.fromEntries(copies.map((c) => [c.to.join(','), c]));
  assert.match(byTo['alice@corp.example']!.text, /\r\nSubject: \[SUSPECTED SPAM\] Quarterly numbers\r\n/);
  assert.match(byTo['bob@corp.example']!.text, /\r\nSubject: \[SPAM\?\] Quarterly numbers\r\n/);
  assert.ok(copies.every((c) => c.hold === null && /^X-Spam-Flag: YES\r\n/.test(c.text)));
  assert.match(ctx.events.find((e) => e.type === 'policy')!.detail.reason, /^sender authentication: DMARC fail for outside\.example/);
});

test('message rules: added score counts, reject text reaches the client, headers are added', async () => {
  let ctx = context(['alice@corp.example'], { spam: spam(1), rules: [{ rule: 'boost', action: 'score', value: 1.5 }, { rule: 'mark', action: 'header', value: 'X-Corp-Rule: boost' }] });
  const [c] = await run(ctx);
  assert.match(c!.text, /X-Spam-Score: 2.5\r\n/);
  assert.match(c!.text, /X-Corp-Rule: boost\r\n/);
  assert.match(c!.text, /X-Spam-Flag: YES\r\n/, 'the added score reaches the tag level');
  ctx = context(['alice@corp.example'], { spam: spam(0), rules: [{ rule: 'no-invoices', action: 'reject', value: 'invoices go to the portal' }] });
  await run(ctx);
  assert.equal(ctx.reject?.message, 'Message rejected: invoices go to the portal');

  // A rule naming some recipients acts on their copies only: the report address's copy goes to the admin.
  ctx = context(['junk@office365.example', 'alice@corp.example'], {
    spam: spam(0),
    rules: [{ rule: 'report-redirect', action: 'redirect', value: 'admin@corp.example', recipients: ['junk@office365.example'] }, { rule: 'archive', action: 'bcc', value: 'archive@corp.example' }],
  });
  const copies = await run(ctx);
  assert.equal(copies.length, 1);
  assert.deepEqual(copies[0]!.to, ['admin@corp.example', 'alice@corp.example', 'archive@corp.example']);
  assert.deepEqual(fates(ctx), { 'junk@office365.example': 'redirected', 'alice@corp.example': 'delivered' });
});

test('inbound: any X-Spam-* and X-Hermes-* header that came with the message is removed; the ones we add stay', async () => {
  const forged = 'X-Hermes-Rule: trusted-sender\r\nX-HERMES-Auth: pass\r\n\tfolded\r\nX-Spam-Report: \r\n\t* -5 ALL_TRUSTED\r\nX-Spam-Checker-Version: SpamAssassin 4.0\r\nX-Spamming: kept, not one of ours\r\n';
  const raw = Buffer.from(forged + RAW);
  const ctx = context(['alice@corp.example'], { spam: spam(0.4), rules: [{ rule: 'mark', action: 'header', value: 'X-Hermes-Rule: mark' }] }, { original: raw, body: raw });
  const [c] = await run(ctx);
  const head = c!.text.split('\r\n\r\n')[0]!;
  assert.doesNotMatch(head, /trusted-sender|X-HERMES-Auth|folded|ALL_TRUSTED|X-Spam-Report|X-Spam-Checker|X-Spam-Flag: NO/i);
  assert.match(head, /^X-Hermes-Rule: mark$/m, 'a message rule\'s header is ours');
  assert.match(head, /^X-Spam-Status: No, score=0.4/m);
  assert.match(head, /^X-Spamming: kept/m);

  // Mail from our own servers is not judged: its headers stay as they are.
  const out = context(['bob@elsewhere.example'], {}, { original: raw, body: raw, client: { ip: '10.0.0.5', helo: 'app', ptr: null, tls: null, trusted: true }, direction: 'outbound' });
  const [o] = await run(out);
  assert.match(o!.text, /^X-Hermes-Rule: trusted-sender\r\n/m);
});

test('subject tag and header stripping helpers', () => {
  const t = tagSubject(Buffer.from('Subject: =?UTF-8?B?w6k=?=\r\n\r\nbody'), '[SPAM]');
  assert.equal(t.body.toString(), 'Subject: [SPAM] =?UTF-8?B?w6k=?=\r\n\r\nbody');
  assert.equal(tagSubject(t.body, '[SPAM]').body.toString(), t.body.toString(), 'tagged once');
  assert.deepEqual(tagSubject(Buffer.from('From: a@b\r\n\r\nx'), '[SPAM]').added, 'Subject: [SPAM]\r\n');
  const lf = Buffer.from('X-Spam-Flag: YES\nFrom: a@b\n\nX-Spam-Flag: body text stays\n');
  assert.equal(stripVerdictHeaders(lf).toString(), 'From: a@b\n\nX-Spam-Flag: body text stays\n');
});

test('autolearn thresholds leave the Bayes symbols out of the score', () => {
  const t = { spamAt: 12, hamAt: 0.1 };
  const r = (score: number, bayes: number) => ({ score: score + bayes, errors: [], symbols: [{ name: 'R', score, description: '' }, { name: 'BAYES_99', score: bayes, description: '' }] });
  assert.equal(autolearnClass(r(12, 3.5), t), 'spam');
  assert.equal(autolearnClass(r(9, 3.5), t), null, '12.5 only with Bayes: not learned');
  assert.equal(autolearnClass(r(0, -1.9), t), 'ham');
  assert.equal(autolearnClass(r(1, -1.9), t), null);
});

test('autolearn counts SpamAssassin rules with their no-Bayes scores (learnScore), and noautolearn rules not at all', () => {
  const t = { spamAt: 12, hamAt: 0.1 };
  // With Bayes on (score set 2) a rule may weigh less than in set 0; autolearn uses set 0.
  const withBayes = { score: 10, errors: [], symbols: [{ name: 'SA_RULE', score: 8, description: '', learnScore: 10 }, { name: 'OWN', score: 2, description: '' }] };
  assert.equal(autolearnClass(withBayes, t), 'spam', 'learned as spam by the set-0 weight (10 + 2)');
  const noLearn = { score: 13, errors: [], symbols: [{ name: 'USER_IN_BLOCKLIST', score: 13, description: '', learnScore: 0 }] };
  assert.equal(autolearnClass(noLearn, t), 'ham', 'a noautolearn rule does not make it spam (counted 0)');
});

test('autolearn learns after the reply, at most one message a second, skipping the rest', async () => {
  const learned: string[] = [];
  const bayes = { learn: async (_i: unknown, cls: string) => void learned.push(cls) } as never;
  const a = new Autolearner(20, 60_000);
  const ham = { score: -1, errors: [], symbols: [] };
  const ctx = context(['alice@corp.example']);
  a.consider(bayes, {} as never, ham, { spamAt: 12, hamAt: 0.1 }, ctx);
  a.consider(bayes, {} as never, ham, { spamAt: 12, hamAt: 0.1 }, ctx);
  await a.idle();
  assert.deepEqual(learned, ['ham']);
  assert.equal(a.skipped, 1);
  assert.deepEqual(ctx.events.filter((e) => e.type === 'autolearn').map((e) => e.detail), [{ as: 'ham' }]);
});

test('spam stage: a failing check is traced and the others still score; findings for decide, nothing changed on the message', async () => {
  const { spamStage } = await import('../../src/pipeline/filter/spam-stage.ts');
  const { MemoryBayesStore } = await import('../../src/pipeline/filter/spam/index.ts');
  const broken = { name: 'broken', run: () => { throw new Error('resolver exploded'); } };
  const st = spamStage({ settings: () => SETTINGS_DEFAULTS, bayesStore: new MemoryBayesStore(), localDomains: () => ['corp.example'], extraChecks: [broken] });
  const ctx = context(['alice@corp.example']);
  await st.run(ctx);
  assert.equal(ctx.reject, null);
  assert.ok(ctx.findings.spam, 'scored');
  assert.deepEqual(ctx.findings.spam!.errors, [{ check: 'broken', error: 'resolver exploded' }]);
  const ev = ctx.events.find((e) => e.type === 'spam')!;
  assert.deepEqual(ev.detail.errors, ['broken: resolver exploded']);
  assert.equal(typeof ev.detail.score, 'number');
  assert.equal(ctx.prepend.length, 0);
  assert.equal(ctx.body, ctx.original);

  // Off, or outbound without spam.scanOutbound: not scanned.
  const out = context(['x@elsewhere.example'], {}, { client: { ip: '10.0.0.5', helo: 'app', ptr: null, tls: null, trusted: true } });
  await st.run(out);
  assert.equal(out.findings.spam, undefined);
  const off = context(['alice@corp.example']);
  await spamStage({ settings: () => ({ ...SETTINGS_DEFAULTS, 'spam.enabled': false }), bayesStore: new MemoryBayesStore(), localDomains: () => [] }).run(off);
  assert.equal(off.findings.spam, undefined);
  assert.match(off.events[0]!.detail.skipped, /spam.enabled=false/);
});

test('subject tag at the quarantine level: a spam copy delivered anyway (spam action tag, or no quarantine store) has its Subject marked', async () => {
  let ctx = context(['bob@corp.example'], { spam: spam(11) });
  let [c] = await run(ctx, { canHold: false });
  assert.match(c!.text, /\r\nSubject: \[SPAM\?\] Quarterly/, 'lenient policy: 11 >= its quarantine level 10, delivered tagged with its prefix');
  ctx = context(['alice@corp.example'], { spam: spam(6) });
  [c] = await run(ctx, { canHold: false });
  assert.equal(c!.hold, null, 'no quarantine store');
  assert.match(c!.text, /\r\nSubject: \[SUSPECTED SPAM\] Quarterly/, 'delivered instead of held: subject marked');
});
