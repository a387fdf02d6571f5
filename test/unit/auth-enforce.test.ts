// enforceAuthPolicy(): the pure decision from verdict + configuration.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthVerdict } from '../../src/pipeline/verify/authenticate.ts';
import { bypassFor, enforceAuthPolicy, matchBypass } from '../../src/pipeline/verify/dmarc-enforce.ts';

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

function verdict(over: DeepPartial<AuthVerdict> = {}): AuthVerdict {
  const v: AuthVerdict = {
    authservId: 'gw.example.net',
    envelope: { clientIp: '192.0.2.66', helo: 'mx.attacker.example', mailFrom: 'bounce@attacker.example' },
    from: { addresses: ['ceo@bank.example'], domain: 'bank.example' },
    spf: { result: 'pass', identity: 'mailfrom', domain: 'attacker.example' },
    dkim: [],
    dmarc: { result: 'fail', domain: 'bank.example', orgDomain: 'bank.example', policy: 'reject', p: 'reject', pct: 100 },
    arc: { result: 'none', instance: 0, trustedSealer: false, shouldSeal: true },
    dnsTempFailures: [],
    authResults: 'gw.example.net; none',
    authResultsHeader: 'Authentication-Results: gw.example.net; none\r\n',
  };
  return {
    ...v,
    ...(over as Partial<AuthVerdict>),
    envelope: { ...v.envelope, ...over.envelope },
    from: { ...v.from, ...over.from } as AuthVerdict['from'],
    spf: { ...v.spf, ...over.spf } as AuthVerdict['spf'],
    dmarc: { ...v.dmarc, ...over.dmarc } as AuthVerdict['dmarc'],
    arc: { ...v.arc, ...over.arc } as AuthVerdict['arc'],
    dkim: (over.dkim as AuthVerdict['dkim']) ?? v.dkim,
  };
}

const trustedChain = (alignedPass: { dmarc: boolean; dkim: boolean; spf: boolean }, sealer = 'lists.example.com'): DeepPartial<AuthVerdict> => ({
  arc: {
    result: 'pass',
    instance: 1,
    sealer: { domain: sealer, selector: 'arc' },
    trustedSealer: true,
    upstream: { authservId: 'lists.example.com', raw: '', dkim: [], alignedPass },
  },
});

test('p=reject → 550 5.7.1; dmarcReject off → handled as quarantine', () => {
  const d = enforceAuthPolicy(verdict());
  assert.equal(d.action, 'reject');
  assert.deepEqual(d.smtpReply, { code: 550, enhanced: '5.7.1', message: 'Message rejected: it fails the DMARC policy (p=reject) of bank.example' });
  assert.ok(d.reasons.some(r => /p=reject: rejected/.test(r)));
  assert.equal(enforceAuthPolicy(verdict(), { dmarcReject: false }).action, 'quarantine');
  assert.equal(enforceAuthPolicy(verdict(), { dmarcReject: false, dmarcQuarantine: 'tag' }).action, 'tag');
});

test('p=quarantine → quarantine | tag | none; p=none → accept', () => {
  const q = verdict({ dmarc: { policy: 'quarantine' } });
  assert.equal(enforceAuthPolicy(q).action, 'quarantine');
  assert.equal(enforceAuthPolicy(q, { dmarcQuarantine: 'tag' }).action, 'tag');
  assert.equal(enforceAuthPolicy(q, { dmarcQuarantine: 'none' }).action, 'accept');
  assert.equal(enforceAuthPolicy(verdict({ dmarc: { policy: 'none' } })).action, 'accept');
  assert.equal(enforceAuthPolicy(verdict({ dmarc: { result: 'pass' } })).action, 'accept');
  assert.equal(enforceAuthPolicy(verdict({ dmarc: { result: 'none', policy: undefined } })).action, 'accept');
  assert.equal(enforceAuthPolicy(verdict({ dmarc: { result: 'permerror', policy: undefined } })).action, 'accept');
});

test('pct: inside the sample the policy applies, outside it the next milder one', () => {
  const v = verdict({ dmarc: { pct: 30 } });
  assert.equal(enforceAuthPolicy(v, {}, 0.1).action, 'reject');
  const out = enforceAuthPolicy(v, {}, 0.5);
  assert.equal(out.action, 'quarantine');
  assert.ok(out.reasons.some(r => r.includes('pct=30')));
  assert.equal(enforceAuthPolicy(verdict({ dmarc: { pct: 30, policy: 'quarantine' } }), {}, 0.9).action, 'accept');
  assert.equal(enforceAuthPolicy(verdict({ dmarc: { pct: 0 } }), {}, 0).action, 'quarantine', 'pct=0 never applies the full policy');
});

test('bypass by sender domain (and subdomains) or client network', () => {
  const byDomain = { bypass: { dmarc: { domains: ['bank.example'] } } };
  const d = enforceAuthPolicy(verdict(), byDomain);
  assert.equal(d.action, 'accept');
  assert.ok(d.reasons.some(r => r.includes('bypass')));
  assert.equal(enforceAuthPolicy(verdict({ from: { domain: 'eu.bank.example' } }), byDomain).action, 'accept');
  assert.equal(enforceAuthPolicy(verdict({ from: { domain: 'notbank.example' } }), byDomain).action, 'reject');
  assert.equal(enforceAuthPolicy(verdict(), { bypass: { dmarc: { networks: ['192.0.2.0/24'] } } }).action, 'accept');
  assert.equal(enforceAuthPolicy(verdict(), { bypass: { dmarc: { networks: ['198.51.100.0/24'] } } }).action, 'reject');
  assert.equal(enforceAuthPolicy(verdict(), { bypass: { spf: { domains: ['bank.example'] } } }).action, 'reject', 'an SPF bypass does not touch DMARC');
  assert.equal(matchBypass({ networks: ['2001:db8::/32'] }, { clientIp: '2001:db8::1', domains: [] }), 'client 2001:db8::1 is in a bypass network');
  assert.deepEqual(bypassFor({ bypass: { spf: { domains: ['attacker.example'] }, dkim: { networks: ['192.0.2.66'] } } }, { clientIp: '192.0.2.66', mailFrom: 'x@attacker.example' }), {
    spf: true,
    dkim: true,
    dmarc: false,
  });
});

test('trusted ARC override: valid chain, trusted sealer, recorded aligned pass', () => {
  for (const alignedPass of [
    { dmarc: true, dkim: false, spf: false },
    { dmarc: false, dkim: true, spf: false },
    { dmarc: false, dkim: false, spf: true },
  ]) {
    const d = enforceAuthPolicy(verdict(trustedChain(alignedPass)));
    assert.equal(d.action, 'accept', JSON.stringify(alignedPass));
    assert.equal(d.arcOverride, true);
    assert.ok(d.reasons.some(r => /overridden: valid ARC chain \(i=1\) sealed by trusted sealer lists\.example\.com/.test(r)), d.reasons.join(' | '));
  }
  // Nothing aligned passed upstream: no override.
  assert.equal(enforceAuthPolicy(verdict(trustedChain({ dmarc: false, dkim: false, spf: false }))).action, 'reject');
  // Config list decides when given: a sealer not on it is not trusted.
  assert.equal(enforceAuthPolicy(verdict(trustedChain({ dmarc: true, dkim: false, spf: false })), { trustedArcSealers: ['google.com'] }).action, 'reject');
  assert.equal(
    enforceAuthPolicy(verdict(trustedChain({ dmarc: true, dkim: false, spf: false }, 'google.com')), { trustedArcSealers: ['Google.com'] }).action,
    'accept',
  );
  // A failed chain never overrides.
  assert.equal(enforceAuthPolicy(verdict({ ...trustedChain({ dmarc: true, dkim: false, spf: false }), arc: { result: 'fail' } })).action, 'reject');
});

test('ARC chain by a trusted sealer that could not be checked (DNS) → tempfail instead of reject', () => {
  const v = verdict({ arc: { result: 'temperror', instance: 1, sealer: { domain: 'lists.example.com', selector: 'arc' }, shouldSeal: false } });
  const d = enforceAuthPolicy(v, { trustedArcSealers: ['lists.example.com'] });
  assert.equal(d.action, 'tempfail');
  assert.equal(d.smtpReply?.code, 451);
  assert.equal(enforceAuthPolicy(v).action, 'reject', 'not trusted: the DMARC policy applies');
  assert.equal(enforceAuthPolicy(v, { trustedArcSealers: ['lists.example.com'], onTempError: 'neutral' }).action, 'accept');
});

test('DMARC temperror: tempfail by default, nothing when the policy is known to be none or onTempError=neutral', () => {
  const v = verdict({ dmarc: { result: 'temperror', policy: undefined } });
  const d = enforceAuthPolicy(v);
  assert.equal(d.action, 'tempfail');
  assert.deepEqual([d.smtpReply?.code, d.smtpReply?.enhanced], [451, '4.7.1']);
  assert.equal(enforceAuthPolicy(v, { onTempError: 'neutral' }).action, 'accept');
  assert.equal(enforceAuthPolicy(verdict({ dmarc: { result: 'temperror', policy: 'none' } })).action, 'accept');
});

test('SPF hard fail: none | tag | reject 5.7.23; not when DMARC passed; temperror only matters for reject', () => {
  const v = verdict({ spf: { result: 'fail', domain: 'bank.example' }, dmarc: { result: 'none', policy: undefined } });
  assert.equal(enforceAuthPolicy(v).action, 'accept');
  assert.equal(enforceAuthPolicy(v, { spfHardFail: 'tag' }).action, 'tag');
  const r = enforceAuthPolicy(v, { spfHardFail: 'reject' });
  assert.equal(r.action, 'reject');
  assert.deepEqual([r.smtpReply?.code, r.smtpReply?.enhanced], [550, '5.7.23']);
  assert.equal(enforceAuthPolicy(verdict({ spf: { result: 'fail' }, dmarc: { result: 'pass' } }), { spfHardFail: 'reject' }).action, 'accept');
  assert.equal(enforceAuthPolicy(v, { spfHardFail: 'reject', bypass: { spf: { networks: ['192.0.2.0/24'] } } }).action, 'accept');
  const temp = verdict({ spf: { result: 'temperror' }, dmarc: { result: 'none', policy: undefined } });
  assert.deepEqual(enforceAuthPolicy(temp, { spfHardFail: 'reject' }).smtpReply?.enhanced, '4.7.24');
  assert.equal(enforceAuthPolicy(temp, { spfHardFail: 'tag' }).action, 'accept');
  // A trusted forwarder's chain also covers the SPF fail forwarding causes.
  assert.equal(enforceAuthPolicy(verdict({ ...trustedChain({ dmarc: true, dkim: false, spf: false }), spf: { result: 'fail' } }), { spfHardFail: 'reject' }).action, 'accept');
});

test('the most severe action wins: a definite reject beats a tempfail', () => {
  const v = verdict({ spf: { result: 'fail' }, dmarc: { result: 'temperror', policy: undefined } });
  assert.equal(enforceAuthPolicy(v, { spfHardFail: 'reject' }).action, 'reject');
});
