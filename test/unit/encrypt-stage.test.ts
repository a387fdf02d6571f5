// The encrypt stage's decisions, with stand-in methods (the real S/MIME method is
// tested against OpenSSL in encrypt-smime.test.ts): policy resolution, the subject
// keyword, the fallback order, the hold (and the sender's notice), and the split of a
// copy whose recipients need different treatment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { SETTINGS_DEFAULTS, type Settings } from '../../src/config/settings.ts';
import { Pipeline } from '../../src/pipeline/pipeline.ts';
import type { MessageContext, Stage } from '../../src/pipeline/context.ts';
import { encryptStage } from '../../src/pipeline/encrypt/encrypt-stage.ts';
import type { EncryptionMethod, EncryptionMethodName, SideMail } from '../../src/pipeline/encrypt/method.ts';
import { takeSubjectKeyword, policyFor } from '../../src/pipeline/encrypt/policy.ts';

const MSG = Buffer.from('From: Alice <alice@ours.test>\r\nTo: bob@far.test\r\nSubject: [encrypt] Quarterly figures\r\nMessage-ID: <m1@ours.test>\r\n\r\nHello\r\n');

function fake(name: EncryptionMethodName, knows: string[], o: { fail?: boolean } = {}): EncryptionMethod {
  return {
    name,
    async availableFor(r) {
      return knows.includes(r) ? { ok: true } : { ok: false, reason: `no ${name} key for ${r}` };
    },
    async encrypt(input) {
      if (o.fail) throw new Error(`${name} broke`);
      return { message: Buffer.concat([Buffer.from(`X-Encrypted: ${name} ${input.recipients.join(',')}\r\n`), input.message]), detail: { fake: true } };
    },
    async sign(input) {
      return { message: Buffer.concat([Buffer.from(`X-Signed: ${name}\r\n`), input.message]), detail: {} };
    },
  };
}

function ctxFor(recipients: string[], body = MSG, trusted = true): MessageContext & { events: Array<{ type: string; detail: any }> } {
  const events: Array<{ type: string; detail: any }> = [];
  return {
    id: 'Q1',
    receivedAt: new Date(),
    client: { ip: '127.0.0.1', helo: 'x', ptr: null, tls: null, trusted },
    direction: 'outbound',
    mailFrom: 'alice@ours.test',
    recipients: recipients.map((address) => ({ address, route: 'mx:far.test', requireTls: false })),
    original: body,
    prepend: [],
    body,
    reject: null,
    findings: {},
    log: pino({ level: 'silent' }),
    trace: (type, detail) => events.push({ type, detail }),
    events,
  };
}

function setup(settings: Partial<Settings>, methods: EncryptionMethod[]) {
  const side: SideMail[] = [];
  const stage: Stage = encryptStage({ methods: () => methods, settings: () => ({ ...SETTINGS_DEFAULTS, ...settings }), sendSideMail: async (_c, m) => void side.push(m), hostname: 'gw.ours.test' });
  return { stage, side, pipeline: new Pipeline([], [stage]) };
}

test('policy: the recipient, then its domain (and parent domains), then the default', () => {
  const s = { ...SETTINGS_DEFAULTS, 'encryption.policy': 'opportunistic' as const, 'encryption.domainPolicies': { 'far.test': 'always' as const }, 'encryption.recipientPolicies': { 'bob@far.test': 'sign' as const } };
  assert.deepEqual(policyFor(s, 'Bob@far.test'), { policy: 'sign', from: 'recipient' });
  assert.deepEqual(policyFor(s, 'eve@mail.far.test'), { policy: 'always', from: 'domain far.test' });
  assert.deepEqual(policyFor(s, 'x@else.test'), { policy: 'opportunistic', from: 'default' });
});

test('the subject keyword is found case-insensitively, raw or encoded, and removed', () => {
  const raw = takeSubjectKeyword(Buffer.from('Subject: Re: [ENCRYPT] hi\r\nFrom: a@b.c\r\n\r\nx'), '[encrypt]');
  assert.equal(raw?.message.toString(), 'Subject: Re: hi\r\nFrom: a@b.c\r\n\r\nx');
  const enc = takeSubjectKeyword(Buffer.from(`Subject: =?UTF-8?B?${Buffer.from('[encrypt] Grüße').toString('base64')}?=\r\n\r\nx`), '[encrypt]');
  assert.ok(enc, 'the encoded keyword is found');
  assert.equal(enc.message.toString(), `Subject: =?UTF-8?B?${Buffer.from('Grüße').toString('base64')}?=\r\n\r\nx`);
  assert.equal(takeSubjectKeyword(Buffer.from('Subject: plain\r\n\r\nx'), '[encrypt]'), null);
  assert.equal(takeSubjectKeyword(Buffer.from('Subject: [encrypt]\r\n\r\nx'), null), null);
});

test('policy never and no keyword: the message is not touched', async () => {
  const { stage } = setup({}, [fake('smime', ['bob@far.test'])]);
  const body = Buffer.from('From: a@ours.test\r\nSubject: hi\r\n\r\nx\r\n');
  const ctx = ctxFor(['bob@far.test'], body);
  await stage.run(ctx);
  assert.equal(ctx.body, body, 'same bytes');
  assert.equal(ctx.events.length, 0, 'no trace entry for the common case');
});

test('the [encrypt] keyword forces encryption under policy never, and is removed from the subject', async () => {
  const { stage } = setup({}, [fake('smime', ['bob@far.test'])]);
  const ctx = ctxFor(['bob@far.test']);
  await stage.run(ctx);
  const out = ctx.body.toString();
  assert.match(out, /^X-Encrypted: smime bob@far.test\r\n/);
  assert.match(out, /\r\nSubject: Quarterly figures\r\n/);
  const d = ctx.events.find((e) => e.type === 'encrypt-decision');
  assert.equal(d?.detail.keyword, '[encrypt]');
  assert.equal(d?.detail.recipients[0].treatment, 'encrypt:smime');
});

test('fallback order: S/MIME, else PGP, else PDF (always only); opportunistic never uses PDF', async () => {
  const methods = [fake('pdf', ['bob@far.test']), fake('pgp', ['bob@far.test']), fake('smime', [])];
  let { stage } = setup({ 'encryption.policy': 'always' }, methods);
  let ctx = ctxFor(['bob@far.test']);
  await stage.run(ctx);
  assert.match(ctx.body.toString(), /^X-Encrypted: pgp/);
  const why = ctx.events.find((e) => e.type === 'encrypt-decision')!.detail.recipients[0];
  assert.equal(why.policy, 'always');

  ({ stage } = setup({ 'encryption.policy': 'always' }, [fake('pdf', ['bob@far.test']), fake('pgp', []), fake('smime', [])]));
  ctx = ctxFor(['bob@far.test']);
  await stage.run(ctx);
  assert.match(ctx.body.toString(), /^X-Encrypted: pdf/);

  ({ stage } = setup({ 'encryption.policy': 'opportunistic', 'encryption.subjectKeyword': null }, [fake('pdf', ['bob@far.test']), fake('pgp', []), fake('smime', [])]));
  ctx = ctxFor(['bob@far.test']);
  await stage.run(ctx);
  assert.doesNotMatch(ctx.body.toString(), /X-Encrypted/);
  assert.match(ctx.events.find((e) => e.type === 'encrypt-decision')!.detail.recipients[0].reason, /opportunistic, no key: smime: no smime key.*pgp: no pgp key/);
});

test('a method that fails hands over to the next that can serve every recipient', async () => {
  const { stage } = setup({ 'encryption.policy': 'always' }, [fake('smime', ['bob@far.test'], { fail: true }), fake('pgp', ['bob@far.test'])]);
  const ctx = ctxFor(['bob@far.test']);
  await stage.run(ctx);
  assert.match(ctx.body.toString(), /^X-Encrypted: pgp/);
  assert.ok(ctx.events.some((e) => e.type === 'encrypt' && e.detail.error === 'smime broke'), 'the failure is traced');
});

test('always, and nothing possible: the copy is held (category encryption) and the sender told why', async () => {
  const { stage, side } = setup({ 'encryption.domainPolicies': { 'far.test': 'always' } }, [fake('smime', [])]);
  const ctx = ctxFor(['bob@far.test']);
  await stage.run(ctx);
  assert.equal(ctx.hold?.category, 'encryption');
  assert.match(ctx.hold!.reason, /bob@far.test.*smime: no smime key for bob@far.test; pgp: not installed; pdf: not installed/);
  assert.equal(side.length, 1);
  assert.equal(side[0]!.to, 'alice@ours.test');
  assert.match(side[0]!.message.toString(), /Subject: Held: encryption not possible for bob@far.test/);
  assert.match(side[0]!.message.toString(), /no smime key for bob@far.test/);
  assert.doesNotMatch(ctx.body.toString(), /\[encrypt\]/, 'the held copy is what would be sent, keyword removed');
});

test('recipients needing different treatment are split into copies, each treated on its own', async () => {
  const { pipeline } = setup(
    { 'encryption.policy': 'opportunistic', 'encryption.recipientPolicies': { 'carol@far.test': 'always', 'dave@far.test': 'never' } },
    [fake('smime', ['bob@far.test', 'erin@far.test'])],
  );
  const ctx = ctxFor(['bob@far.test', 'carol@far.test', 'dave@far.test', 'erin@far.test'], Buffer.from('From: a@ours.test\r\nSubject: hi\r\n\r\nx\r\n'));
  const out = await pipeline.run(ctx);
  const byRcpt = new Map(out.map((c) => [c.recipients.map((r) => r.address).join(','), c]));
  assert.deepEqual([...byRcpt.keys()].sort(), ['bob@far.test,erin@far.test', 'carol@far.test', 'dave@far.test']);
  assert.match(byRcpt.get('bob@far.test,erin@far.test')!.body.toString(), /^X-Encrypted: smime bob@far.test,erin@far.test/);
  assert.equal(byRcpt.get('carol@far.test')!.hold?.category, 'encryption');
  assert.doesNotMatch(byRcpt.get('dave@far.test')!.body.toString(), /X-Encrypted/);
});

test('policy sign signs without encrypting; inbound mail is never touched', async () => {
  const { stage } = setup({ 'encryption.policy': 'sign' }, [fake('smime', ['bob@far.test'])]);
  const ctx = ctxFor(['bob@far.test'], Buffer.from('From: a@ours.test\r\nSubject: hi\r\n\r\nx\r\n'));
  await stage.run(ctx);
  assert.match(ctx.body.toString(), /^X-Signed: smime/);
  const inbound = ctxFor(['bob@far.test'], MSG, false);
  await stage.run(inbound);
  assert.equal(inbound.body, MSG);
});
