// DKIM conformance against dkimpy's test data (authvectors/dkimpy: data/ files, the DNS
// records its Python tests hard-code in dns.json, the outcomes in expected.json).
// Verification goes through verifyMessage(), signing through dkimSign(); DNS answers
// come only from the vectors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { authvectorsDir, txtResolver, vectorsAbsent } from '../helpers/authvectors.ts';
import { verifyMessage, type AuthVerdict } from '../../src/pipeline/verify/authenticate.ts';
import { dkimSign } from '../../src/pipeline/sign/dkim-sign.ts';
import { importDkimPrivateKey, type DkimKey } from '../../src/pipeline/sign/dkim-keys.ts';
import mailauthSign from 'mailauth/lib/dkim/sign.js';

const absent = vectorsAbsent('dkimpy', 'expected.json');
const dir = (...p: string[]) => authvectorsDir('dkimpy', ...p);
const file = (name: string) => readFileSync(dir(name));
const text = (name: string) => readFileSync(dir(name), 'utf8').trim();

/** Vector id → what we do instead, and why. Empty: all match. */
const KNOWN_DEVIATIONS: Record<string, string> = {};

interface Expected {
  verify: Array<{ message: string; signatures: Array<{ d: string; s: string; a: string; c: string; expect: string }> }>;
}

function dns(extra: Record<string, string> = {}): Record<string, string> {
  const base = JSON.parse(readFileSync(dir('dns.json'), 'utf8')) as Record<string, string>;
  delete base._comment;
  return { ...base, ...extra };
}

async function verify(raw: Buffer, records: Record<string, string>): Promise<AuthVerdict> {
  return verifyMessage({
    raw,
    clientIp: '192.0.2.1',
    helo: 'client.example',
    mailFrom: '',
    authservId: 'receiver.test',
    resolver: txtResolver(records),
  });
}

function sigResult(v: AuthVerdict, d: string, s: string): string {
  const row = v.dkim.find(x => x.domain === d && x.selector === s);
  assert.ok(row, `a signature d=${d} s=${s} was evaluated (have: ${v.dkim.map(x => `${x.domain}/${x.selector}`).join(', ')})`);
  return row.result;
}

const rsaKey = (): DkimKey => ({ domain: 'example.com', selector: 'test', privateKeyPem: text('data/test.private'), algorithm: 'rsa-sha256' });

test('dkimpy DKIM vectors', { skip: absent ?? false }, async t => {
  const results: Array<{ id: string; ok: boolean; detail?: string }> = [];
  const check = async (id: string, fn: () => Promise<void>) => {
    await t.test(id, async () => {
      try {
        await fn();
        results.push({ id, ok: true });
      } catch (err) {
        results.push({ id, ok: false, detail: (err as Error).message });
        if (!KNOWN_DEVIATIONS[id]) throw err;
      }
    });
  };

  const expected = JSON.parse(readFileSync(dir('expected.json'), 'utf8')) as Expected;

  // Third-party signatures.
  for (const vec of expected.verify) {
    await check(`verify ${vec.message}`, async () => {
      const v = await verify(file(vec.message), dns());
      for (const sig of vec.signatures) assert.equal(sigResult(v, sig.d, sig.s), sig.expect, `${sig.a} ${sig.c} d=${sig.d} s=${sig.s}`);
    });
  }

  // Sign with our signer, verify with our verifier.
  for (const c of ['relaxed/relaxed', 'relaxed/simple', 'simple/relaxed', 'simple/simple'] as const) {
    await check(`sign+verify test.message ${c}`, async () => {
      const signed = await dkimSign(file('data/test.message'), [rsaKey()], { canonicalization: c });
      assert.equal(sigResult(await verify(signed, dns()), 'example.com', 'test'), 'pass');
    });
  }
  await check('sign+verify test.message with l= (mailauth signer, body length limit)', async () => {
    const msg = file('data/test.message');
    const r = await mailauthSign.dkimSign(msg, {
      signatureData: [{ signingDomain: 'example.com', selector: 'test', privateKey: text('data/test.private'), maxBodyLength: 10 }],
    });
    assert.deepEqual(r.errors, []);
    assert.match(r.signatures, /; l=10;/);
    const v = await verify(Buffer.concat([Buffer.from(r.signatures), msg]), dns());
    assert.equal(sigResult(v, 'example.com', 'test'), 'pass');
    assert.ok((v.dkim[0]!.unsignedBodyBytes ?? 0) > 0, 'the unsigned body part is reported');
  });
  await check('body altered after signing fails', async () => {
    const signed = await dkimSign(file('data/test.message'), [rsaKey()]);
    const altered = Buffer.from(signed.toString('latin1').replace('This is a test message.', 'This is a changed message.'), 'latin1');
    const v = await verify(altered, dns());
    assert.equal(sigResult(v, 'example.com', 'test'), 'fail');
  });
  await check('key record without k= (test2.txt) means k=rsa', async () => {
    const signed = await dkimSign(file('data/test.message'), [rsaKey()]);
    const v = await verify(signed, dns({ 'test._domainkey.example.com': text('data/test2.txt') }));
    assert.equal(sigResult(v, 'example.com', 'test'), 'pass');
  });
  await check('malformed key record "v=DKIM1:" (badversion.txt) does not verify', async () => {
    const signed = await dkimSign(file('data/test.message'), [rsaKey()]);
    const v = await verify(signed, dns({ 'test._domainkey.example.com': text('data/badversion.txt') }));
    assert.equal(sigResult(v, 'example.com', 'test'), 'permerror');
  });
  await check('unknown key type k=ed25519-sha256 (badk.txt) does not verify', async () => {
    const signed = await dkimSign(file('data/test.message'), [rsaKey()]);
    const v = await verify(signed, dns({ 'test._domainkey.example.com': text('data/badk.txt') }));
    assert.equal(sigResult(v, 'example.com', 'test'), 'permerror');
  });
  await check('corrupted RSA key (test_bad.txt) is rejected as unparsable', async () => {
    const signed = await dkimSign(file('data/test.message'), [rsaKey()]);
    const v = await verify(signed, dns({ 'test._domainkey.example.com': text('data/test_bad.txt') }));
    assert.equal(sigResult(v, 'example.com', 'test'), 'permerror');
  });
  await check('key with s=tlsrpt (test_tlsrpt.txt) is not used for email', async () => {
    const signed = await dkimSign(file('data/test.message'), [rsaKey()]);
    const v = await verify(signed, dns({ 'test._domainkey.example.com': text('data/test_tlsrpt.txt') }));
    assert.equal(sigResult(v, 'example.com', 'test'), 'permerror');
  });
  await check('test.txt is the public half of test.private', async () => {
    const signed = await dkimSign(file('data/test.message'), [rsaKey()]);
    const v = await verify(signed, { 'test._domainkey.example.com': text('data/test.txt') });
    assert.equal(sigResult(v, 'example.com', 'test'), 'pass');
  });
  await check('Ed25519 raw seed (ed25519test.key), d=example.net s=test', async () => {
    const key = importDkimPrivateKey(text('data/ed25519test.key'));
    const signed = await dkimSign(file('data/ed25519test.msg'), [
      { domain: 'example.net', selector: 'test', privateKeyPem: key.privateKeyPem, algorithm: 'ed25519-sha256' },
    ]);
    assert.equal(key.dnsTxt, dns()['test._domainkey.example.net'], 'derived TXT record equals the published one');
    assert.equal(sigResult(await verify(signed, dns()), 'example.net', 'test'), 'pass');
  });
  await check('RFC 8032 7.1 seed (rfc8032_7_1.key) signs rfc6376.msg as brisbane._domainkey.football.example.com', async () => {
    const key = importDkimPrivateKey(text('data/rfc8032_7_1.key'));
    assert.equal(key.dnsTxt, dns()['brisbane._domainkey.football.example.com']);
    const signed = await dkimSign(file('data/rfc6376.msg'), [
      { domain: 'football.example.com', selector: 'brisbane', privateKeyPem: key.privateKeyPem, algorithm: 'ed25519-sha256' },
    ]);
    assert.equal(sigResult(await verify(signed, dns()), 'football.example.com', 'brisbane'), 'pass');
  });
  await check('message.mbox: the signed header list round-trips', async () => {
    const signed = await dkimSign(file('data/message.mbox'), [rsaKey()]);
    assert.equal(sigResult(await verify(signed, dns()), 'example.com', 'test'), 'pass');
  });
  await check('a message without From is not signed', async () => {
    await assert.rejects(dkimSign(file('data/test_nofrom.message'), [rsaKey()]), /without a From header/);
  });
  await check('a second From added after signing fails verification (From is oversigned)', async () => {
    const signed = (await dkimSign(file('data/test.message'), [rsaKey()])).toString('latin1');
    for (const tampered of [
      signed.replace(/^(DKIM-Signature:(?:.*\n[ \t])*.*\n)/, '$1From: Evil <evil@example.com>\n'),
      signed.replace('\n\n', '\nFrom: Evil <evil@example.com>\n\n'),
    ]) {
      assert.notEqual(tampered, signed);
      const v = await verify(Buffer.from(tampered, 'latin1'), dns());
      assert.equal(sigResult(v, 'example.com', 'test'), 'fail');
    }
  });

  const passed = results.filter(r => r.ok).length;
  t.diagnostic(`dkimpy vectors: ${passed}/${results.length} pass, known deviations ${Object.keys(KNOWN_DEVIATIONS).length}`);
  for (const id of Object.keys(KNOWN_DEVIATIONS)) {
    assert.equal(results.find(r => r.id === id)?.ok, false, `${id} is listed as a known deviation but passes`);
  }
});
