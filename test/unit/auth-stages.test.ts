// The verify, DKIM sign and ARC seal stages on a message context, with DNS answered
// from a table: what they add to the message, what they decide, what they trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findPython, txtResolver } from '../helpers/authvectors.ts';
import { dkimpyVerify } from '../helpers/dkimpy.ts';
import { contextFor } from '../helpers/attachments.ts';
import { Pipeline, finalMessage } from '../../src/pipeline/pipeline.ts';
import { SETTINGS_DEFAULTS, type Settings } from '../../src/config/settings.ts';
import { verifyStage } from '../../src/pipeline/verify/verify-stage.ts';
import { dkimSignStage, fromDomains, signingCandidates } from '../../src/pipeline/sign/sign-stage.ts';
import { arcSealStage } from '../../src/pipeline/sign/seal-stage.ts';
import { verifyMessage } from '../../src/pipeline/verify/authenticate.ts';
import { dkimDnsName, generateDkimKey } from '../../src/pipeline/sign/dkim-keys.ts';
import type { SigningKeyStore } from '../../src/pipeline/sign/key-store.ts';
import type { DkimKey } from '../../src/pipeline/sign/dkim-sign.ts';

const ID = 'mx.gw.test';

function msg(from: string, extra = ''): Buffer {
  return Buffer.from(`${extra}From: Someone <${from}>\r\nTo: <a@corp.test>\r\nSubject: hi\r\nDate: Tue, 03 Jun 2025 10:00:00 +0000\r\nMessage-ID: <x@y>\r\n\r\nHello\r\n`);
}

/** A message context as the session builds it, for running the stages directly. */
const ctxFor = (raw: Buffer, o: { trusted?: boolean; mailFrom?: string; ip?: string } = {}) =>
  contextFor(raw, { mailFrom: 'x@example.org', recipient: 'a@corp.test', ...o });

const DNS = {
  'bank.example': 'v=spf1 ip4:192.0.2.0/24 -all',
  '_dmarc.bank.example': 'v=DMARC1; p=reject',
  '_dmarc.promo.example': 'v=DMARC1; p=quarantine',
};

function settings(over: Partial<Settings> = {}): () => Settings {
  const s = { ...SETTINGS_DEFAULTS, ...over };
  return () => s;
}

test('verify: a p=reject spoof is refused with 550 5.7.1; the verdict is on the context and in the trace', async () => {
  const stage = verifyStage({ authservId: ID, resolver: txtResolver(DNS), settings: settings() });
  const ctx = ctxFor(msg('ceo@bank.example'), { mailFrom: 'ceo@bank.example' });
  await stage.run(ctx);
  assert.deepEqual(ctx.reject && [ctx.reject.code, ctx.reject.enhanced], [550, '5.7.1']);
  assert.equal(ctx.auth?.verdict.dmarc.result, 'fail');
  assert.equal(ctx.auth?.decision.action, 'reject');
  const [type, detail] = ctx.events[0]!;
  assert.equal(type, 'auth');
  assert.match(detail.spf, /^fail \(mailfrom bank\.example\)/);
  assert.equal(detail.dmarc, 'fail from=bank.example p=reject');
});

test('verify: bypass by sender domain or client network, dmarcReject off; quarantine and tag are left to the decide stage', async () => {
  const run = async (over: Partial<Settings>, from = 'ceo@bank.example', ip?: string) => {
    const ctx = ctxFor(msg(from), { mailFrom: from, ...(ip ? { ip } : {}) });
    await verifyStage({ authservId: ID, resolver: txtResolver(DNS), settings: settings(over) }).run(ctx);
    return ctx;
  };
  assert.equal((await run({ 'auth.bypass.dmarc': { domains: ['bank.example'], networks: [] } })).reject, null);
  const byNet = await run({ 'auth.bypass.dmarc': { domains: [], networks: ['198.51.100.0/24'] } });
  assert.equal(byNet.reject, null);
  assert.match(byNet.events[0]![1].dmarc, /not evaluated/);
  // The verify stage only decides: it adds our Authentication-Results and nothing else;
  // the decide stage holds or tags the message (category 'auth').
  const onlyOurResults = (c: typeof byNet) => assert.deepEqual(c.prepend.map((h) => h.split(':')[0]), ['Authentication-Results']);
  const asQuarantine = await run({ 'auth.dmarcReject': false });
  assert.equal(asQuarantine.reject, null);
  assert.equal(asQuarantine.auth?.decision.action, 'quarantine');
  onlyOurResults(asQuarantine);
  const promo = await run({}, 'deals@promo.example');
  assert.equal(promo.auth?.decision.action, 'quarantine');
  onlyOurResults(promo);
  assert.equal(promo.events[0]![1].applied, 'to be held in the quarantine by the decide stage (category auth)');
  assert.doesNotMatch(JSON.stringify(promo.events), /no quarantine store|X-Hermes/);
  const tag = await run({ 'auth.dmarcQuarantine': 'tag' }, 'deals@promo.example');
  assert.equal(tag.auth?.decision.action, 'tag');
  onlyOurResults(tag);
  assert.equal(tag.events[0]![1].applied, 'to be tagged by the decide stage (subject tag, as for spam)');
  const spfReject = await run({ 'auth.spfHardFail': 'reject', 'auth.dmarcReject': false });
  assert.deepEqual(spfReject.reject && [spfReject.reject.code, spfReject.reject.enhanced], [550, '5.7.23']);
});

test('verify: our forged Authentication-Results leave ctx.body, ours goes into prepend; verification off still strips; trusted clients are not judged', async () => {
  const forged = 'Authentication-Results: mx.gw.test; dmarc=pass header.from=bank.example\r\nAuthentication-Results: other.example; spf=pass\r\n';
  const raw = msg('someone@plain.example', forged);
  const ctx = ctxFor(raw, { mailFrom: 'someone@plain.example' });
  await verifyStage({ authservId: ID, resolver: txtResolver(DNS), settings: settings() }).run(ctx);
  assert.equal(ctx.original, raw, 'the original is untouched');
  assert.doesNotMatch(ctx.body.toString(), /mx\.gw\.test/);
  assert.match(ctx.body.toString(), /^Authentication-Results: other\.example; spf=pass/);
  assert.equal(ctx.prepend.length, 1);
  assert.match(ctx.prepend[0]!, /^Authentication-Results: mx\.gw\.test;\r\n\tdkim=none/);
  assert.equal(ctx.events[0]![1].forgedResultsRemoved, true);

  const off = ctxFor(raw);
  await verifyStage({ authservId: ID, resolver: () => assert.fail('no lookups when off'), settings: settings({ 'auth.verify': false }) }).run(off);
  assert.doesNotMatch(off.body.toString(), /mx\.gw\.test/);
  assert.deepEqual(off.prepend, []);
  assert.equal(off.auth, undefined);

  const trusted = ctxFor(raw, { trusted: true });
  await verifyStage({ authservId: ID, resolver: () => assert.fail('no lookups for our own servers'), settings: settings() }).run(trusted);
  assert.equal(trusted.body, raw);
  assert.deepEqual(trusted.events, []);
});

test('verify: a DNS timeout is 451 by default, neutral when configured', async () => {
  const resolver = txtResolver(DNS, { timeouts: ['_dmarc.slow.example', 'slow.example'] });
  const ctx = ctxFor(msg('a@slow.example'), { mailFrom: 'a@slow.example' });
  await verifyStage({ authservId: ID, resolver, settings: settings() }).run(ctx);
  assert.equal(ctx.reject?.code, 451);
  const neutral = ctxFor(msg('a@slow.example'), { mailFrom: 'a@slow.example' });
  await verifyStage({ authservId: ID, resolver, settings: settings({ 'auth.onTempError': 'neutral' }) }).run(neutral);
  assert.equal(neutral.reject, null);
  assert.equal(neutral.auth?.verdict.dmarc.result, 'temperror');
});

test('sign: From domains and signing candidates (parents up to the organisational domain)', () => {
  assert.deepEqual(fromDomains(msg('a@News.Example.com')), ['news.example.com']);
  assert.deepEqual(fromDomains(Buffer.from('From: "x, y" <a@one.test>,\r\n b@two.test\r\nSubject: s\r\n\r\nb')), ['one.test', 'two.test']);
  assert.deepEqual(signingCandidates('a.b.example.co.uk'), ['a.b.example.co.uk', 'b.example.co.uk', 'example.co.uk']);
  assert.deepEqual(signingCandidates(''), []);
});

function fakeStore(keys: Record<string, DkimKey[]>, arc?: DkimKey): SigningKeyStore {
  return {
    async signingKeys(c: readonly string[]) {
      for (const d of c) if (keys[d]) return { domain: d, keys: keys[d]! };
      return null;
    },
    async arcKey() {
      if (!arc) throw new Error('no ARC key');
      return { domain: arc.domain, selector: arc.selector, privateKeyPem: arc.privateKeyPem, algorithm: 'rsa-sha256' as const };
    },
  } as unknown as SigningKeyStore;
}

test('sign + seal: outbound mail is signed on its final bytes and sealed with cv=none; both verify', async () => {
  const [rsa, ed, arcKey] = await Promise.all([generateDkimKey('rsa-sha256', 1024), generateDkimKey('ed25519-sha256'), generateDkimKey('rsa-sha256', 1024)]);
  const keys = {
    'example.com': [
      { domain: 'example.com', selector: 'r', privateKeyPem: rsa.privateKeyPem, algorithm: 'rsa-sha256' as const },
      { domain: 'example.com', selector: 'e', privateKeyPem: ed.privateKeyPem, algorithm: 'ed25519-sha256' as const },
    ],
  };
  const arc = { domain: 'gw.example', selector: 'arc', privateKeyPem: arcKey.privateKeyPem, algorithm: 'rsa-sha256' as const };
  const dns = { [dkimDnsName('r', 'example.com')]: rsa.dnsTxt, [dkimDnsName('e', 'example.com')]: ed.dnsTxt, [dkimDnsName('arc', 'gw.example')]: arcKey.dnsTxt };
  const store = fakeStore(keys, arc);
  const s = settings({ 'arc.enabled': true, 'arc.domain': 'gw.example', 'arc.selector': 'arc' });
  const pipeline = new Pipeline([
    verifyStage({ authservId: ID, resolver: txtResolver(dns), settings: s }),
    { name: 'banner', run: (c) => void c.prepend.push('X-Added-Late: yes\r\n') },
    dkimSignStage({ keys: store }),
    arcSealStage({ authservId: ID, keys: store, settings: s, resolver: txtResolver(dns) }),
  ]);
  const ctx = ctxFor(msg('alice@news.example.com'), { trusted: true, mailFrom: 'alice@news.example.com' });
  await pipeline.run(ctx);
  assert.equal(ctx.reject, null);
  const out = Buffer.concat(finalMessage(ctx));
  assert.match(out.toString(), /^ARC-Seal: /);
  const types = ctx.events.map(([t]) => t);
  assert.deepEqual(types, ['dkim-sign', 'arc-seal']);
  assert.equal(ctx.events[0]![1].domain, 'example.com');
  assert.match(ctx.events[0]![1].note, /news\.example\.com has no key of its own/);
  assert.deepEqual(ctx.events[1]![1], { instance: 1, cv: 'none', domain: 'gw.example', selector: 'arc' });
  const v = await verifyMessage({ raw: out, clientIp: '192.0.2.1', helo: 'x', mailFrom: 'alice@news.example.com', authservId: 'next.example', resolver: txtResolver(dns) });
  assert.deepEqual(v.dkim.map((d) => [d.selector, d.result]).sort(), [['e', 'pass'], ['r', 'pass']]);
  assert.equal(v.arc.result, 'pass');

  // Inbound: not signed; sealed with our Authentication-Results as the AAR.
  const inbound = ctxFor(msg('bob@elsewhere.example'), { mailFrom: 'bob@elsewhere.example' });
  await pipeline.run(inbound);
  const inOut = Buffer.concat(finalMessage(inbound)).toString();
  assert.doesNotMatch(inOut, /DKIM-Signature/);
  assert.match(inOut, /ARC-Authentication-Results: i=1; mx\.gw\.test;/);

  // No key for the sender: traced, not signed, not refused.
  const other = ctxFor(msg('carol@nokey.example'), { trusted: true, mailFrom: 'carol@nokey.example' });
  await dkimSignStage({ keys: store }).run(other);
  assert.equal(other.reject, null);
  assert.match(other.events[0]![1].skipped, /no active DKIM key for nokey\.example/);
});

test('sign failure tempfails (a configured signature never silently goes missing); a seal failure is traced and the mail goes on', async () => {
  const broken = fakeStore({ 'example.com': [{ domain: 'example.com', selector: 'bad', privateKeyPem: 'not a key', algorithm: 'rsa-sha256' }] });
  const ctx = ctxFor(msg('a@example.com'), { trusted: true, mailFrom: 'a@example.com' });
  await dkimSignStage({ keys: broken }).run(ctx);
  assert.deepEqual(ctx.reject && [ctx.reject.code, ctx.reject.enhanced], [451, '4.3.0']);
  assert.match(ctx.events[0]![1].error, /DKIM signing failed/);

  const seal = ctxFor(msg('a@example.com'), { trusted: true });
  await arcSealStage({ authservId: ID, keys: broken, settings: settings({ 'arc.enabled': true, 'arc.domain': 'gw.example', 'arc.selector': 'arc' }), resolver: txtResolver({}) }).run(seal);
  assert.equal(seal.reject, null);
  assert.deepEqual(seal.prepend, []);
  assert.equal(seal.events[0]![1].sealed, false);
  assert.match(seal.events[0]![1].error, /no ARC key/);

  // Inbound mail that was not verified on arrival is not sealed: its cv would be a guess.
  const unverified = ctxFor(msg('a@example.com'));
  await arcSealStage({ authservId: ID, keys: broken, settings: settings({ 'arc.enabled': true, 'arc.domain': 'gw.example', 'arc.selector': 'arc' }), resolver: txtResolver({}) }).run(unverified);
  assert.match(unverified.events[0]![1].reason, /not verified on arrival/);
});

test('seal: an SMTPUTF8 sender in our Authentication-Results does not break the seal (mailauth signs latin1, writes UTF-8)', async () => {
  const k = await generateDkimKey('rsa-sha256', 1024);
  const dns = { [dkimDnsName('arc', 'gw.example')]: k.dnsTxt };
  const s = settings({ 'arc.enabled': true, 'arc.domain': 'gw.example', 'arc.selector': 'arc' });
  const store = fakeStore({}, { domain: 'gw.example', selector: 'arc', privateKeyPem: k.privateKeyPem, algorithm: 'rsa-sha256' });
  const p = new Pipeline([verifyStage({ authservId: ID, resolver: txtResolver(dns), settings: s }), arcSealStage({ authservId: ID, keys: store, settings: s, resolver: txtResolver(dns) })]);
  const raw = Buffer.from('From: José <josé@exämple.org>\r\nSubject: s\r\n\r\nbody\r\n');
  const ctx = ctxFor(raw, { mailFrom: 'josé@exämple.org' });
  await p.run(ctx);
  const out = Buffer.concat(finalMessage(ctx));
  assert.match(out.toString('utf8'), /ARC-Authentication-Results: i=1; mx\.gw\.test;[^]*smtp\.mailfrom="josé@exämple\.org"/);
  const v = await verifyMessage({ raw: out, clientIp: '192.0.2.1', helo: 'x', mailFrom: '', authservId: 'next.example', resolver: txtResolver(dns) });
  assert.equal(v.arc.result, 'pass', v.arc.comment);
});

test('sign + seal: a message without the empty line after its header is signed and sealed (the line is added); dkimpy verifies both', { skip: findPython(['dkim']) ? false : 'python3-dkim is not installed' }, async () => {
  const [rsa, arcKey] = await Promise.all([generateDkimKey('rsa-sha256', 1024), generateDkimKey('rsa-sha256', 1024)]);
  const store = fakeStore(
    { 'example.com': [{ domain: 'example.com', selector: 'r', privateKeyPem: rsa.privateKeyPem, algorithm: 'rsa-sha256' }] },
    { domain: 'gw.example', selector: 'arc', privateKeyPem: arcKey.privateKeyPem, algorithm: 'rsa-sha256' },
  );
  const dns = { [dkimDnsName('r', 'example.com')]: rsa.dnsTxt, [dkimDnsName('arc', 'gw.example')]: arcKey.dnsTxt };
  const s = settings({ 'arc.enabled': true, 'arc.domain': 'gw.example', 'arc.selector': 'arc' });
  const pipeline = new Pipeline([dkimSignStage({ keys: store }), arcSealStage({ authservId: ID, keys: store, settings: s, resolver: txtResolver(dns) })]);
  const head = 'From: <alice@example.com>\r\nTo: <a@corp.test>\r\nSubject: no separator\r\n';
  for (const [name, raw, expected] of [
    ['header only', head, `${head}\r\n`],
    ['header only, last line unended', head.slice(0, -2), `${head}\r\n`],
    ['a body right after the fields', `${head}Hello, no empty line above.\r\n`, `${head}\r\nHello, no empty line above.\r\n`],
  ] as const) {
    const ctx = ctxFor(Buffer.from(raw), { trusted: true, mailFrom: 'alice@example.com' });
    await pipeline.run(ctx);
    assert.equal(ctx.reject, null, `${name}: not refused`);
    const out = Buffer.concat(finalMessage(ctx));
    const types = ctx.events.map(([t, d]) => `${t}${d.error || d.sealed === false ? ' failed' : ''}`);
    assert.deepEqual(types, ['header-end', 'dkim-sign', 'arc-seal'], `${name}: the line is added, then signed and sealed: ${JSON.stringify(ctx.events)}`);
    assert.ok(out.toString().endsWith(expected), `${name}: the message goes on with the empty line: ${JSON.stringify(out.toString().slice(-120))}`);
    const r = dkimpyVerify(findPython(['dkim'])!, out, dns);
    assert.deepEqual(r.dkim.map((x) => x.ok), [true], `${name}: dkimpy verifies the DKIM signature`);
    assert.equal(r.arc, 'pass', `${name}: dkimpy verifies the ARC set: ${r.arc_comment}`);
  }
  // A message with its empty line is left as it is.
  const fine = ctxFor(msg('alice@example.com'), { trusted: true, mailFrom: 'alice@example.com' });
  await pipeline.run(fine);
  assert.deepEqual(fine.events.map(([t]) => t), ['dkim-sign', 'arc-seal'], 'no header-end event');
  assert.ok(Buffer.concat(finalMessage(fine)).toString().endsWith(msg('alice@example.com').toString()), 'unchanged below our fields');
});
