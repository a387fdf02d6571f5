// verifyMessage(): DNS failures surface as temperror (never a pass or a quiet
// non-match), DMARC details (sp, pct, strict alignment, From rules), ARC upstream
// results and the Authentication-Results header.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dnsError } from '../helpers/authvectors.ts';
import { verifyMessage, checkSpf, type Resolver, type VerifyInput } from '../../src/pipeline/verify/authenticate.ts';
import { enforceAuthPolicy } from '../../src/pipeline/verify/dmarc-enforce.ts';
import { dkimSign } from '../../src/pipeline/sign/dkim-sign.ts';
import { arcSeal } from '../../src/pipeline/sign/arc-seal.ts';
import { dkimDnsName, generateDkimKey, type GeneratedDkimKey } from '../../src/pipeline/sign/dkim-keys.ts';

/** TXT records by name; a string starting with "!" is an error code to throw (e.g. "!ETIMEOUT"). */
function resolverOf(zone: Record<string, string | string[]>, log?: string[]): Resolver {
  return async (name, rrtype) => {
    const n = name.toLowerCase().replace(/\.$/, '');
    log?.push(`${rrtype} ${n}`);
    const v = zone[n];
    if (v === undefined) throw dnsError('ENOTFOUND', name, rrtype);
    if (typeof v === 'string' && v.startsWith('!')) throw dnsError(v.slice(1), name, rrtype);
    if (rrtype !== 'TXT') throw dnsError('ENODATA', name, rrtype);
    return (Array.isArray(v) ? v : [v]).map(r => [r]);
  };
}

const msg = (from: string, extra = '') =>
  Buffer.from(
    `From: ${from}\r\nTo: bob@example.net\r\nSubject: hi\r\nDate: Tue, 03 Jun 2025 10:00:00 +0000\r\nMessage-ID: <x@y>\r\n${extra}\r\nbody\r\n`,
  );

const base = (raw: Buffer, resolver: Resolver, over: Partial<VerifyInput> = {}): VerifyInput => ({
  raw,
  clientIp: '203.0.113.5',
  helo: 'mail.example.org',
  mailFrom: 'alice@example.org',
  authservId: 'gw.example.net',
  resolver,
  ...over,
});

let keys: { rsa: GeneratedDkimKey; arc: GeneratedDkimKey } | undefined;
async function getKeys() {
  keys ??= { rsa: await generateDkimKey('rsa-sha256'), arc: await generateDkimKey('rsa-sha256') };
  return keys;
}

test('SPF: a DNS timeout on the policy is temperror; SERVFAIL inside include: is temperror, not a non-match', async () => {
  const r1 = await checkSpf({ clientIp: '203.0.113.5', helo: 'h', mailFrom: 'a@example.org', authservId: 'gw', resolver: resolverOf({ 'example.org': '!ETIMEOUT' }) });
  assert.equal(r1.result, 'temperror');
  const zone = { 'example.org': 'v=spf1 include:_spf.provider.example ~all', '_spf.provider.example': '!ESERVFAIL' };
  const r2 = await checkSpf({ clientIp: '203.0.113.5', helo: 'h', mailFrom: 'a@example.org', authservId: 'gw', resolver: resolverOf(zone) });
  assert.equal(r2.result, 'temperror', 'mailauth alone would skip the include and say softfail');
  const r3 = await checkSpf({ clientIp: '203.0.113.5', helo: 'h', mailFrom: 'a@example.org', authservId: 'gw', resolver: resolverOf({ 'example.org': '!EREFUSED' }) });
  assert.equal(r3.result, 'temperror');
});

test('SPF: null sender checks the HELO identity; an IP HELO is written as a literal', async () => {
  const r = await checkSpf({ clientIp: '203.0.113.5', helo: 'mail.example.org', mailFrom: '', authservId: 'gw', resolver: resolverOf({ 'mail.example.org': 'v=spf1 ip4:203.0.113.0/24 -all' }) });
  assert.equal(r.identity, 'helo');
  assert.equal(r.result, 'pass');
});

test('a resolver that never answers is cut off by lookupTimeoutMs and reported as temperror', async () => {
  const hang: Resolver = () => new Promise(() => {});
  const v = await verifyMessage(base(msg('alice@example.org'), hang, { lookupTimeoutMs: 50 }));
  assert.equal(v.spf.result, 'temperror');
  assert.equal(v.dmarc.result, 'temperror');
  assert.ok(v.dnsTempFailures.some(f => f.code === 'ETIMEOUT'));
});

test('DKIM: key lookup timeout is temperror; DMARC that could have aligned becomes temperror and tempfails', async () => {
  const { rsa } = await getKeys();
  const signed = await dkimSign(msg('alice@example.org'), [{ domain: 'example.org', selector: 's1', privateKeyPem: rsa.privateKeyPem, algorithm: 'rsa-sha256' }]);
  const zone = {
    [dkimDnsName('s1', 'example.org')]: '!ETIMEOUT',
    '_dmarc.example.org': 'v=DMARC1; p=reject',
    'example.org': 'v=spf1 -all',
  };
  const v = await verifyMessage(base(signed, resolverOf(zone)));
  assert.equal(v.dkim[0]?.result, 'temperror');
  assert.equal(v.spf.result, 'fail');
  assert.equal(v.dmarc.result, 'temperror', 'not a fail: the aligned DKIM answer is missing');
  assert.match(v.authResults, /dkim=temperror/);
  const d = enforceAuthPolicy(v);
  assert.equal(d.action, 'tempfail');
  assert.equal(d.smtpReply?.code, 451);
  assert.equal(enforceAuthPolicy(v, { onTempError: 'neutral' }).action, 'accept');
});

test('DMARC: record lookup SERVFAIL is temperror (policy unknown) → tempfail', async () => {
  const v = await verifyMessage(base(msg('alice@example.org'), resolverOf({ '_dmarc.example.org': '!ESERVFAIL', 'example.org': 'v=spf1 -all' })));
  assert.equal(v.dmarc.result, 'temperror');
  assert.equal(v.dmarc.policy, undefined);
  assert.equal(enforceAuthPolicy(v).action, 'tempfail');
});

test('DMARC: sp= applies to a subdomain covered by the organisational record; pct is read from the record', async () => {
  const zone = { '_dmarc.example.org': 'v=DMARC1; p=none; sp=reject; pct=25', 'example.org': 'v=spf1 -all' };
  const v = await verifyMessage(base(msg('x@news.example.org'), resolverOf(zone)));
  assert.equal(v.dmarc.result, 'fail');
  assert.equal(v.dmarc.domain, 'news.example.org');
  assert.equal(v.dmarc.orgDomain, 'example.org');
  assert.equal(v.dmarc.policy, 'reject');
  assert.equal(v.dmarc.p, 'none');
  assert.equal(v.dmarc.pct, 25);
  const top = await verifyMessage(base(msg('x@example.org'), resolverOf(zone)));
  assert.equal(top.dmarc.policy, 'none');
  const bad = await verifyMessage(base(msg('x@example.org'), resolverOf({ '_dmarc.example.org': 'v=DMARC1; p=quarantine; pct=abc' })));
  assert.equal(bad.dmarc.pct, 100, 'an invalid pct means the default');
});

test('DMARC: adkim=s requires the exact From domain (mailauth alone would pass it)', async () => {
  const { rsa } = await getKeys();
  const signed = await dkimSign(msg('alice@example.org'), [{ domain: 'mail.example.org', selector: 's1', privateKeyPem: rsa.privateKeyPem, algorithm: 'rsa-sha256' }]);
  const zone = { [dkimDnsName('s1', 'mail.example.org')]: rsa.dnsTxt, 'example.org': 'v=spf1 -all' };
  const relaxed = await verifyMessage(base(signed, resolverOf({ ...zone, '_dmarc.example.org': 'v=DMARC1; p=reject' })));
  assert.equal(relaxed.dkim[0]?.result, 'pass');
  assert.equal(relaxed.dmarc.result, 'pass');
  assert.equal(relaxed.dmarc.alignment?.dkim.domain, 'mail.example.org');
  const strict = await verifyMessage(base(signed, resolverOf({ ...zone, '_dmarc.example.org': 'v=DMARC1; p=reject; adkim=s' })));
  assert.equal(strict.dmarc.result, 'fail');
  assert.equal(strict.dmarc.alignment?.dkim.strict, true);
});

test('DMARC: no From is permerror, From in two domains is permerror, two From in one domain is evaluated', async () => {
  const noFrom = Buffer.from('To: bob@example.net\r\nSubject: x\r\n\r\nbody\r\n');
  assert.equal((await verifyMessage(base(noFrom, resolverOf({})))).dmarc.result, 'permerror');
  const two = msg('a@example.org, b@other.example');
  assert.equal((await verifyMessage(base(two, resolverOf({})))).dmarc.result, 'permerror');
  const same = msg('a@example.org', 'From: b@example.org\r\n');
  const v = await verifyMessage(base(same, resolverOf({ '_dmarc.example.org': 'v=DMARC1; p=reject' })));
  assert.equal(v.dmarc.result, 'fail');
  assert.equal(v.from.addresses.length, 2);
});

test('ARC: a chain whose seal key lookup times out is temperror, not fail, and is not sealed over', async () => {
  const { arc } = await getKeys();
  const sealedUpstream = await arcSeal(msg('alice@example.org'), {
    key: { domain: 'lists.example.com', selector: 'arc', privateKeyPem: arc.privateKeyPem },
    arrival: { result: 'none', instance: 0, shouldSeal: true },
    authResults: 'lists.example.com; dmarc=pass header.from=example.org; dkim=pass header.d=example.org',
  });
  const ok = await verifyMessage(base(sealedUpstream.message, resolverOf({ [dkimDnsName('arc', 'lists.example.com')]: arc.dnsTxt }), { trustedArcSealers: ['Lists.Example.com'] }));
  assert.equal(ok.arc.result, 'pass');
  assert.equal(ok.arc.instance, 1);
  assert.deepEqual(ok.arc.sealer, { domain: 'lists.example.com', selector: 'arc' });
  assert.equal(ok.arc.trustedSealer, true);
  assert.equal(ok.arc.upstream?.authservId, 'lists.example.com');
  assert.equal(ok.arc.upstream?.dmarc?.result, 'pass');
  assert.deepEqual(ok.arc.upstream?.alignedPass, { dmarc: true, dkim: true, spf: false });
  assert.match(ok.authResults, /arc=pass/);

  const slow = await verifyMessage(base(sealedUpstream.message, resolverOf({ [dkimDnsName('arc', 'lists.example.com')]: '!ETIMEOUT' })));
  assert.equal(slow.arc.result, 'temperror');
  assert.equal(slow.arc.shouldSeal, false);
  assert.match(slow.authResults, /arc=fail \(temporary DNS failure/);

  const missing = await verifyMessage(base(sealedUpstream.message, resolverOf({})));
  assert.equal(missing.arc.result, 'fail', 'a key that does not exist is a real failure');
  assert.equal(missing.arc.shouldSeal, true, 'a failed chain gets our set with cv=fail');
});

test('Authentication-Results: our authserv-id first, one row per method; bypassed checks are left out', async () => {
  const zone = { 'example.org': 'v=spf1 ip4:203.0.113.0/24 -all', '_dmarc.example.org': 'v=DMARC1; p=quarantine' };
  const v = await verifyMessage(base(msg('alice@example.org'), resolverOf(zone)));
  assert.match(v.authResultsHeader, /^Authentication-Results: gw\.example\.net;\r\n\t/);
  assert.ok(v.authResultsHeader.endsWith('\r\n'));
  for (const m of ['dkim=none', 'spf=pass', 'dmarc=pass', 'arc=none']) assert.ok(v.authResults.includes(m), `${m} in ${v.authResults}`);
  assert.ok(v.authResultsHeader.split('\r\n').every(l => l.length < 200));

  const log: string[] = [];
  const skipped = await verifyMessage(base(msg('alice@example.org'), resolverOf(zone, log), { bypass: { spf: true } }));
  assert.equal(skipped.spf.skipped, true);
  assert.equal(skipped.dmarc.skipped, true);
  assert.ok(!/spf=|dmarc=/.test(skipped.authResults));
  assert.ok(!log.some(l => l.endsWith(' example.org') || l.includes('_dmarc')), 'no SPF or DMARC lookups were made');
});

test('DKIM: an unsupported signature is reported (permerror), not dropped as "not signed"', async () => {
  const raw = Buffer.from(
    'DKIM-Signature: v=1; a=rsa-sha512; c=relaxed/relaxed; d=example.org; s=s1; h=from; bh=AAAA; b=BBBB\r\n' +
      'From: alice@example.org\r\nSubject: x\r\n\r\nbody\r\n',
  );
  const v = await verifyMessage(base(raw, resolverOf({})));
  assert.equal(v.dkim.length, 1);
  assert.equal(v.dkim[0]?.result, 'permerror');
  assert.match(v.authResults, /dkim=permerror/);
});
