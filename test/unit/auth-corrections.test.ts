// The places where the verify stage corrects mailauth 4.9.5 (issue 18): DKIM i=
// outside d=, %{d} in SPF records reached through include:, Ed25519 ARC seals, and
// DKIM keys published as PKCS#1. Messages are signed and sealed by dkimpy (Debian
// python3-dkim), SPF runs against the local test DNS through the gateway's resolver.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { findPython, runPythonJson, txtResolver } from '../helpers/authvectors.ts';
import { dkimpyVerify } from '../helpers/dkimpy.ts';
import { startTestDns, type TestDns } from '../helpers/dns-server.ts';
import { DnsResolver } from '../../src/dns/resolver.ts';
import { checkSpf, verifyMessage } from '../../src/pipeline/verify/authenticate.ts';
import { enforceAuthPolicy } from '../../src/pipeline/verify/dmarc-enforce.ts';
import { dkimDnsName, generateDkimKey } from '../../src/pipeline/sign/dkim-keys.ts';

const python = findPython(['dkim', 'nacl']);
if (!python) throw new Error('these tests need Python with dkim and nacl (Debian python3-dkim, python3-nacl)');

const MESSAGE = [
  'From: Joe <joe@example.org>',
  'To: Bob <bob@example.net>',
  'Subject: Match tickets',
  'Date: Tue, 03 Jun 2025 10:00:00 +0000',
  'Message-ID: <tickets@example.org>',
  '',
  'Two seats for Saturday.',
  '',
].join('\r\n');

/** The key as dkimpy wants it: PKCS#1 PEM for RSA, base64 32-byte seed for Ed25519. */
function dkimpyKey(pem: string): string {
  const k = createPrivateKey(pem);
  if (k.asymmetricKeyType === 'rsa') return k.export({ type: 'pkcs1', format: 'pem' }).toString();
  const der = k.export({ type: 'pkcs8', format: 'der' });
  return der.subarray(der.length - 32).toString('base64');
}

const SIGN = String.raw`
import sys, json, base64, dkim
d = json.load(sys.stdin)
msg = base64.b64decode(d['message'])
kw = {'identity': d['identity'].encode()} if d.get('identity') else {}
h = dkim.sign(msg, d['selector'].encode(), d['domain'].encode(), d['key'].encode(),
              canonicalize=(b'relaxed', b'relaxed'), signature_algorithm=d['algorithm'].encode(),
              include_headers=[b'from', b'to', b'subject', b'date', b'message-id'], **kw)
json.dump({'message': base64.b64encode(h + msg).decode()}, sys.stdout)
`;

// dkimpy 1.1.4 seals with Ed25519 in ARC.gen_header (pk.sign(sha256 digest)), but its
// arc_sign() passes signature_algorithm=rsa-sha256 to ARC() whatever it was given, and
// ARC.sign parses the key as PEM only: so the script builds ARC() itself and hands it
// the nacl key for an Ed25519 seed.
const ARC_SIGN = String.raw`
import sys, json, base64, dkim, nacl.signing, nacl.encoding
pem_only = dkim.parse_pem_private_key
def any_key(k):
    try:
        return pem_only(k)
    except dkim.UnparsableKeyError:
        return nacl.signing.SigningKey(k, encoder=nacl.encoding.Base64Encoder)
dkim.parse_pem_private_key = any_key
d = json.load(sys.stdin)
msg = base64.b64decode(d['message'])
recs = {k.lower(): v for k, v in d['dns'].items()}
def dnsfunc(name, timeout=5):
    name = name.decode() if isinstance(name, bytes) else name
    v = recs.get(name.lower().rstrip('.'))
    return v.encode() if v is not None else None
for hop in d['hops']:
    msg = ('Authentication-Results: %s; spf=pass smtp.mailfrom=joe@example.org; dkim=pass header.d=example.org\r\n' % hop['srv_id']).encode() + msg
    a = dkim.ARC(msg, signature_algorithm=hop['algorithm'].encode())
    h = a.sign(hop['selector'].encode(), hop['domain'].encode(), hop['key'].encode(), hop['srv_id'].encode(),
               include_headers=[b'from', b'to', b'subject', b'date'], timestamp=1748944800)
    msg = b''.join(h) + msg
json.dump({'message': base64.b64encode(msg).decode()}, sys.stdout)
`;

function dkimpySign(o: { domain: string; selector: string; key: string; algorithm: string; identity?: string }): Buffer {
  const r = runPythonJson<{ message: string }>(python!, SIGN, { message: Buffer.from(MESSAGE).toString('base64'), ...o });
  return Buffer.from(r.message, 'base64');
}

const verify = (raw: Buffer, resolver: ReturnType<typeof txtResolver>) =>
  verifyMessage({ raw, clientIp: '198.51.100.20', helo: 'out.example.com', mailFrom: 'bounce@mailer.example.com', authservId: 'gw.example.net', resolver });

test('DKIM: a signature whose i= is outside d= is a permerror and does not align for DMARC', async () => {
  const key = await generateDkimKey('rsa-sha256');
  const dns = { [dkimDnsName('s1', 'example.org')]: key.dnsTxt, '_dmarc.example.org': 'v=DMARC1; p=reject' };
  const resolver = txtResolver(dns);
  // dkimpy only checks that i= ends with d= as a string, so it signs this one.
  const forged = dkimpySign({ domain: 'example.org', selector: 's1', key: dkimpyKey(key.privateKeyPem), algorithm: 'rsa-sha256', identity: 'joe@badexample.org' });
  assert.equal(dkimpyVerify(python!, forged, dns).dkim[0]?.ok, false, 'dkimpy, verifying, refuses it too');
  const v = await verify(forged, resolver);
  assert.equal(v.dkim.length, 1);
  assert.equal(v.dkim[0]!.result, 'permerror');
  assert.match(v.dkim[0]!.comment ?? '', /i= domain badexample\.org is not d=example\.org/);
  assert.equal(v.dkim[0]!.aligned, false);
  assert.match(v.authResults, /dkim=permerror/);
  assert.equal(v.dmarc.result, 'fail');
  assert.equal(v.dmarc.alignment?.dkim.domain, undefined);
  assert.equal(enforceAuthPolicy(v, {}).action, 'reject');

  // i= in a subdomain of d= is what RFC 6376 allows: it passes and aligns.
  const good = dkimpySign({ domain: 'example.org', selector: 's1', key: dkimpyKey(key.privateKeyPem), algorithm: 'rsa-sha256', identity: 'joe@tickets.example.org' });
  const g = await verify(good, resolver);
  assert.equal(g.dkim[0]!.result, 'pass');
  assert.equal(g.dmarc.result, 'pass');
});

test('DKIM: a key published as PKCS#1 RSAPublicKey verifies like the same key as SubjectPublicKeyInfo', async () => {
  const key = await generateDkimKey('rsa-sha256');
  const pkcs1 = createPublicKey(key.privateKeyPem).export({ type: 'pkcs1', format: 'der' }).toString('base64');
  const dns = { [dkimDnsName('old', 'example.org')]: `v=DKIM1; k=rsa; p=${pkcs1}`, '_dmarc.example.org': 'v=DMARC1; p=reject' };
  const signed = dkimpySign({ domain: 'example.org', selector: 'old', key: dkimpyKey(key.privateKeyPem), algorithm: 'rsa-sha256' });
  const v = await verify(signed, txtResolver(dns));
  assert.equal(v.dkim[0]!.result, 'pass', v.dkim[0]!.comment);
  assert.equal(v.dkim[0]!.keyBits, 2048);
  assert.equal(v.dmarc.result, 'pass');
  // A tampered message still fails against that key; a garbage key is still a permerror.
  const tampered = Buffer.from(signed.toString('latin1').replace('Two seats', 'Ten seats'), 'latin1');
  assert.equal((await verify(tampered, txtResolver(dns))).dkim[0]!.result, 'fail');
  const junk = { [dkimDnsName('old', 'example.org')]: `v=DKIM1; k=rsa; p=${Buffer.from('not a key at all').toString('base64')}` };
  assert.equal((await verify(signed, txtResolver(junk))).dkim[0]!.result, 'permerror');
});

test('ARC: a chain sealed with Ed25519 by dkimpy is arc=pass; tampered, it is arc=fail', async () => {
  const ed1 = await generateDkimKey('ed25519-sha256');
  const dkimKey = await generateDkimKey('rsa-sha256');
  const dns: Record<string, string> = {
    [dkimDnsName('s1', 'example.org')]: dkimKey.dnsTxt,
    [dkimDnsName('arc', 'lists.example.com')]: ed1.dnsTxt,
  };
  const signed = dkimpySign({ domain: 'example.org', selector: 's1', key: dkimpyKey(dkimKey.privateKeyPem), algorithm: 'rsa-sha256' });
  const hops = [
    { srv_id: 'lists.example.com', domain: 'lists.example.com', selector: 'arc', key: dkimpyKey(ed1.privateKeyPem), algorithm: 'ed25519-sha256' },
  ];
  const sealed = Buffer.from(runPythonJson<{ message: string }>(python!, ARC_SIGN, { message: signed.toString('base64'), dns, hops }).message, 'base64');
  // (dkimpy 1.1.4's arc_verify accepts only a=rsa-sha256, so it cannot judge this chain.)
  assert.match(sealed.toString('latin1'), /ARC-Seal: i=1; cv=none; a=ed25519-sha256/i);

  const v = await verify(sealed, txtResolver(dns));
  assert.equal(v.arc.result, 'pass', v.arc.comment);
  assert.equal(v.arc.instance, 1);
  assert.equal(v.arc.sealer?.domain, 'lists.example.com');
  assert.equal(v.arc.upstream?.spf?.result, 'pass');
  assert.match(v.authResults, /arc=pass/);

  // Changing a sealed ARC-Authentication-Results breaks the seals (the body is not sealed by AS).
  const tampered = Buffer.from(sealed.toString('latin1').replace(/(ARC-Authentication-Results: i=1; lists\.example\.com; spf=)pass/, '$1fail'), 'latin1');
  assert.notDeepEqual(tampered, sealed);
  const t = await verify(tampered, txtResolver(dns));
  assert.equal(t.arc.result, 'fail');
  assert.match(t.arc.comment ?? '', /i=1 seal signature validation failed/);
  // A body change breaks the newest AMS: fail as well.
  const body = Buffer.from(sealed.toString('latin1').replace('Two seats', 'Ten seats'), 'latin1');
  assert.equal((await verify(body, txtResolver(dns))).arc.result, 'fail');
  // The seal key is missing: fail, not pass.
  const noKey = { ...dns };
  delete noKey[dkimDnsName('arc', 'lists.example.com')];
  assert.equal((await verify(sealed, txtResolver(noKey))).arc.result, 'fail');
});

// RFC 7208 Appendix D.5, DNSBL-style: users listed by A records under the include's own domain.
let dns: TestDns | undefined;
let resolver: DnsResolver | undefined;
before(async () => {
  dns = await startTestDns({
    'example.com': {
      TXT: ['v=spf1 mx include:mobile-users._spf.%{d} include:remote-users._spf.%{d} -all'],
      MX: [{ exchange: 'mx.example.com', priority: 10 }],
    },
    'mx.example.com': { A: ['192.0.2.10'] },
    'mobile-users._spf.example.com': { TXT: ['v=spf1 exists:%{l1r+}.%{d}'] },
    'remote-users._spf.example.com': { TXT: ['v=spf1 exists:%{ir}.%{l1r+}.%{d}'] },
    // Joel is a listed mobile user.
    'joel.mobile-users._spf.example.com': { A: ['127.0.0.2'] },
    // The wildcard that made every client pass when %{d} was the sender's domain.
    '*.example.com': { A: ['192.0.2.80'] },
  });
  resolver = new DnsResolver({ servers: [dns.server], timeoutMs: 3000 });
});
after(async () => {
  await dns?.close();
});

const spfFor = (mailFrom: string, clientIp: string) =>
  checkSpf({ clientIp, helo: 'client.example.org', mailFrom, authservId: 'gw.example.net', resolver: (n, t) => resolver!.resolve(n, t as never) });

test('SPF: %{d} in an included record is the included domain (RFC 7208 D.5 with a wildcard A record)', async () => {
  const unlisted = await spfFor('mallory@example.com', '203.0.113.9');
  assert.equal(unlisted.result, 'fail', unlisted.comment);
  const listed = await spfFor('joel@example.com', '203.0.113.9');
  assert.equal(listed.result, 'pass', listed.comment);
  const mx = await spfFor('mallory@example.com', '192.0.2.10');
  assert.equal(mx.result, 'pass', 'the mx mechanism of the top-level record still matches');
  assert.equal(unlisted.record, 'v=spf1 mx include:mobile-users._spf.%{d} include:remote-users._spf.%{d} -all', 'the top-level record is reported as published');
});

// The same inputs given to mailauth alone: each assertion pins the upstream defect we
// correct. When one fails after a mailauth upgrade, upstream fixed it: drop our
// correction (see docs/upstream-mailauth.md) and this assertion.
test('upstream mailauth 4.9.5 still has the four defects corrected above', async () => {
  const { default: dkimVerifyMod } = await import('mailauth/lib/dkim/verify.js');
  const { default: arcMod } = await import('mailauth/lib/arc/index.js');
  const { default: spfMod } = await import('mailauth/lib/spf/index.js');
  const { default: tools } = await import('mailauth/lib/tools.js');

  const key = await generateDkimKey('rsa-sha256');
  const keyDns = { [dkimDnsName('s1', 'example.org')]: key.dnsTxt };
  const forged = dkimpySign({ domain: 'example.org', selector: 's1', key: dkimpyKey(key.privateKeyPem), algorithm: 'rsa-sha256', identity: 'joe@badexample.org' });
  const d = await dkimVerifyMod.dkimVerify(forged, { resolver: txtResolver(keyDns) });
  assert.equal(d.results[0]?.status.result, 'pass', 'mailauth ignores i= outside d=');

  const pkcs1 = createPublicKey(key.privateKeyPem).export({ type: 'pkcs1', format: 'der' }).toString('base64');
  await assert.rejects(tools.getPublicKey('DKIM', 'k._domainkey.example.org', 1024, txtResolver({ 'k._domainkey.example.org': `v=DKIM1; p=${pkcs1}` })), {
    code: 'EINVALIDTYPE',
  });

  const ed = await generateDkimKey('ed25519-sha256');
  const arcDns = { [dkimDnsName('arc', 'lists.example.com')]: ed.dnsTxt };
  const hop = { srv_id: 'lists.example.com', domain: 'lists.example.com', selector: 'arc', key: dkimpyKey(ed.privateKeyPem), algorithm: 'ed25519-sha256' };
  const sealed = Buffer.from(runPythonJson<{ message: string }>(python!, ARC_SIGN, { message: Buffer.from(MESSAGE).toString('base64'), dns: arcDns, hops: [hop] }).message, 'base64');
  const parsed = await dkimVerifyMod.dkimVerify(sealed, { resolver: txtResolver(arcDns) });
  assert.equal(parsed.arc.lastEntry?.messageSignature?.status.result, 'pass', 'mailauth verifies the Ed25519 AMS');
  const arcRes = await arcMod.arc(parsed.arc, { resolver: txtResolver(arcDns) });
  assert.equal(arcRes.status.result, 'fail', 'mailauth fails a valid Ed25519 seal');
  assert.match(String(arcRes.status.comment), /seal signature validation failed/);
  assert.equal((await verify(sealed, txtResolver(arcDns))).arc.result, 'pass');

  const spf = await spfMod.spf({ sender: 'mallory@example.com', ip: '203.0.113.9', helo: 'client.example.org', mta: 'gw', resolver: (n: string, t: string) => resolver!.resolve(n, t as never) });
  assert.equal(spf.status.result, 'pass', 'mailauth expands %{d} to the sender domain inside include:');
});
