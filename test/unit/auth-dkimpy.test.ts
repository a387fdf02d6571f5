// Independent verification with Python's dkim module (dkimpy, Debian python3-dkim):
// what the gateway signs and seals must verify there, and what dkimpy signs must
// verify here. DNS for both sides comes from a dict built in the test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { findPython, runPythonJson, txtResolver } from '../helpers/authvectors.ts';
import { dkimpyVerify } from '../helpers/dkimpy.ts';
import { verifyMessage, stripOurAuthResults } from '../../src/pipeline/verify/authenticate.ts';
import { enforceAuthPolicy } from '../../src/pipeline/verify/dmarc-enforce.ts';
import { dkimSign } from '../../src/pipeline/sign/dkim-sign.ts';
import { arcSeal } from '../../src/pipeline/sign/arc-seal.ts';
import { dkimDnsName, generateDkimKey } from '../../src/pipeline/sign/dkim-keys.ts';

const python = findPython(['dkim', 'nacl']);
const skip = python ? false : 'Python with the dkim and nacl modules (Debian python3-dkim, python3-nacl) is not available';

// dkimpy signs (the verifying side is test/helpers/dkimpy.ts): one signature per key, newest on top.
const SIGN = String.raw`
import sys, json, base64, dkim
data = json.load(sys.stdin)
msg = base64.b64decode(data['message'])
sigs = b''
for k in data['keys']:
    h = dkim.sign(msg, k['selector'].encode(), k['domain'].encode(), k['key'].encode(),
                  canonicalize=(b'relaxed', b'relaxed'), signature_algorithm=k['algorithm'].encode(),
                  include_headers=[b'from', b'to', b'subject', b'date', b'message-id'])
    sigs = h + sigs
json.dump({'message': base64.b64encode(sigs + msg).decode()}, sys.stdout)
`;

function dkimpySign(input: { message: string; keys: Array<{ domain: string; selector: string; key: string; algorithm: string }> }): { message: string } {
  return runPythonJson(python!, SIGN, input);
}

/** The key as dkimpy's sign() wants it: PKCS#1 PEM for RSA, base64 32-byte seed for Ed25519. */
function dkimpyKey(pem: string): string {
  const k = createPrivateKey(pem);
  if (k.asymmetricKeyType === 'rsa') return k.export({ type: 'pkcs1', format: 'pem' }).toString();
  const der = k.export({ type: 'pkcs8', format: 'der' });
  return der.subarray(der.length - 32).toString('base64');
}

const MESSAGE = [
  'From: Alice Example <alice@example.org>',
  'To: Bob <bob@example.net>',
  'Cc: carol@example.net',
  'Subject: Quarterly figures',
  'Date: Tue, 03 Jun 2025 10:00:00 +0000',
  'Message-ID: <q3-figures@example.org>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'Hello Bob,',
  '',
  'the figures are attached in spirit.   Trailing space here:   ',
  '',
  '',
].join('\r\n');

test('gateway DKIM (RSA + Ed25519) and ARC seal verify with dkimpy', { skip }, async () => {
  const rsa = await generateDkimKey('rsa-sha256');
  const ed = await generateDkimKey('ed25519-sha256');
  const arcKey = await generateDkimKey('rsa-sha256');
  const dns: Record<string, string> = {
    [dkimDnsName('rsa2025', 'example.org')]: rsa.dnsTxt,
    [dkimDnsName('ed2025', 'example.org')]: ed.dnsTxt,
    [dkimDnsName('arc', 'gw.example.org')]: arcKey.dnsTxt,
  };
  const resolver = txtResolver(dns);

  // Outbound from our own network: verify on arrival (no chain: cv=none), sign, seal.
  const raw = Buffer.from(MESSAGE);
  const arrival = await verifyMessage({ raw, clientIp: '10.0.0.5', helo: 'mail.example.org', mailFrom: 'alice@example.org', authservId: 'gw.example.org', resolver });
  assert.equal(arrival.arc.result, 'none');
  const signed = await dkimSign(raw, [
    { domain: 'example.org', selector: 'rsa2025', privateKeyPem: rsa.privateKeyPem, algorithm: 'rsa-sha256' },
    { domain: 'example.org', selector: 'ed2025', privateKeyPem: ed.privateKeyPem, algorithm: 'ed25519-sha256' },
  ]);
  const sealed = await arcSeal(signed, {
    key: { domain: 'gw.example.org', selector: 'arc', privateKeyPem: arcKey.privateKeyPem },
    arrival: arrival.arc,
    authResults: arrival.authResults,
  });
  assert.equal(sealed.sealed, true);
  assert.equal(sealed.cv, 'none');

  const r = dkimpyVerify(python!, sealed.message, dns);
  assert.deepEqual(r.dkim.map((s) => s.ok), [true, true], 'dkimpy verifies the RSA and the Ed25519 signature');
  assert.equal(r.arc, 'pass', `dkimpy arc_verify: ${r.arc_comment}`);

  // And our own verifier agrees.
  const back = await verifyMessage({ raw: sealed.message, clientIp: '192.0.2.9', helo: 'x', mailFrom: 'alice@example.org', authservId: 'next.example', resolver });
  assert.deepEqual(back.dkim.map(d => [d.selector, d.result]).sort(), [['ed2025', 'pass'], ['rsa2025', 'pass']]);
  assert.equal(back.arc.result, 'pass');

  // Tampering is noticed by dkimpy too.
  const tampered = Buffer.from(sealed.message.toString('latin1').replace('Quarterly figures', 'Quarterly f1gures'), 'latin1');
  const t2 = dkimpyVerify(python!, tampered, dns);
  assert.deepEqual(t2.dkim.map((s) => s.ok), [false, false]);
  assert.equal(t2.arc, 'fail');
});

test('a chain that arrived intact stays cv=pass after we change the body (Hermes #229), per dkimpy', { skip }, async () => {
  const upstreamKey = await generateDkimKey('rsa-sha256');
  const ourArc = await generateDkimKey('rsa-sha256');
  const ourDkim = await generateDkimKey('ed25519-sha256');
  const dns: Record<string, string> = {
    [dkimDnsName('up', 'lists.example.com')]: upstreamKey.dnsTxt,
    [dkimDnsName('arc', 'gw.example.net')]: ourArc.dnsTxt,
    [dkimDnsName('ed', 'example.net')]: ourDkim.dnsTxt,
  };
  const resolver = txtResolver(dns);

  // A mailing list sealed the message (i=1, cv=none) and relays it to us.
  const upstream = await arcSeal(Buffer.from(MESSAGE), {
    key: { domain: 'lists.example.com', selector: 'up', privateKeyPem: upstreamKey.privateKeyPem },
    arrival: { result: 'none', instance: 0, shouldSeal: true },
    authResults: 'lists.example.com; dkim=pass header.d=example.org; spf=pass smtp.mailfrom=alice@example.org; dmarc=pass header.from=example.org',
  });
  const arrival = await verifyMessage({ raw: upstream.message, clientIp: '198.51.100.7', helo: 'lists.example.com', mailFrom: 'list-bounces@lists.example.com', authservId: 'gw.example.net', resolver });
  assert.equal(arrival.arc.result, 'pass');
  assert.equal(arrival.arc.upstream?.dmarc?.result, 'pass');

  // We add a banner to the body, then sign and seal the final bytes.
  const text = stripOurAuthResults(upstream.message, 'gw.example.net').toString('latin1');
  const modified = Buffer.from(text.replace('Hello Bob,', '[EXTERNAL] Be careful with links.\r\n\r\nHello Bob,'), 'latin1');
  const withAr = Buffer.concat([Buffer.from(arrival.authResultsHeader), modified]);
  const signed = await dkimSign(withAr, [{ domain: 'example.net', selector: 'ed', privateKeyPem: ourDkim.privateKeyPem, algorithm: 'ed25519-sha256' }]);
  // Control: validating the chain now, on the changed bytes, would say fail (what Hermes seals).
  const late = await verifyMessage({ raw: signed, clientIp: '198.51.100.7', helo: 'x', mailFrom: '', authservId: 'gw.example.net', resolver });
  assert.equal(late.arc.result, 'fail');
  const sealed = await arcSeal(signed, {
    key: { domain: 'gw.example.net', selector: 'arc', privateKeyPem: ourArc.privateKeyPem },
    arrival: arrival.arc,
    authResults: arrival.authResults,
  });
  assert.equal(sealed.cv, 'pass', 'cv comes from the arrival validation');
  assert.equal(sealed.instance, 2);

  const r = dkimpyVerify(python!, sealed.message, dns);
  assert.equal(r.arc, 'pass', `dkimpy arc_verify: ${r.arc_comment}`);
  assert.deepEqual(r.dkim.map((s) => s.ok), [true]);
});

test('verifyMessage accepts what dkimpy signed (RSA and Ed25519); a p=reject spoof is rejected', { skip }, async () => {
  const rsa = await generateDkimKey('rsa-sha256');
  const ed = await generateDkimKey('ed25519-sha256');
  const dns: Record<string, string> = {
    [dkimDnsName('py-rsa', 'example.org')]: rsa.dnsTxt,
    [dkimDnsName('py-ed', 'example.org')]: ed.dnsTxt,
    '_dmarc.example.org': 'v=DMARC1; p=reject; rua=mailto:dmarc@example.org',
    'example.org': 'v=spf1 ip4:203.0.113.0/24 -all',
    'attacker.example': 'v=spf1 ip4:192.0.2.0/24 -all',
  };
  const resolver = txtResolver(dns);
  const r = dkimpySign({
    message: Buffer.from(MESSAGE).toString('base64'),
    keys: [
      { domain: 'example.org', selector: 'py-rsa', key: dkimpyKey(rsa.privateKeyPem), algorithm: 'rsa-sha256' },
      { domain: 'example.org', selector: 'py-ed', key: dkimpyKey(ed.privateKeyPem), algorithm: 'ed25519-sha256' },
    ],
  });
  const signedByPy = Buffer.from(r.message, 'base64');
  // Forwarded from an unlisted address: SPF fails, DMARC passes on aligned DKIM.
  const v = await verifyMessage({ raw: signedByPy, clientIp: '198.51.100.20', helo: 'fwd.example.com', mailFrom: 'alice@example.org', authservId: 'gw.example.net', resolver });
  assert.deepEqual(v.dkim.map(d => [d.selector, d.algorithm, d.result]).sort(), [
    ['py-ed', 'ed25519-sha256', 'pass'],
    ['py-rsa', 'rsa-sha256', 'pass'],
  ]);
  assert.equal(v.spf.result, 'fail');
  assert.equal(v.dmarc.result, 'pass');
  assert.match(v.authResults, /^gw\.example\.net;/);
  assert.equal(enforceAuthPolicy(v, { spfHardFail: 'reject' }).action, 'accept', 'SPF fail is not acted on when DMARC passed');

  // The spoof: From example.org, sent by the attacker from its own (SPF-valid) network, unsigned.
  const spoof = Buffer.from(MESSAGE.replace('Subject: Quarterly figures', 'Subject: Urgent wire transfer'));
  const sv = await verifyMessage({ raw: spoof, clientIp: '192.0.2.66', helo: 'mx.attacker.example', mailFrom: 'bounce@attacker.example', authservId: 'gw.example.net', resolver });
  assert.equal(sv.spf.result, 'pass');
  assert.equal(sv.dmarc.result, 'fail');
  assert.equal(sv.dmarc.policy, 'reject');
  const d = enforceAuthPolicy(sv, {});
  assert.equal(d.action, 'reject');
  assert.deepEqual(d.smtpReply && [d.smtpReply.code, d.smtpReply.enhanced], [550, '5.7.1']);
});
