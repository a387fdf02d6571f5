// DKIM conformance against mailauth's own fixtures (authvectors/mailauth): body-hash
// vectors, the RFC 8463 Ed25519+RSA double signature with its DNS table, and the test
// keys (RSA-2048, Ed25519, and an RSA-512 key that must not be accepted).
//
// Not run: fixtures/arc-*.eml and authtest.eml are real 2020 Gmail chains whose keys
// need live DNS (and may have rotated); the ARC suites cover ARC offline instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { authvectorsDir, txtResolver, vectorsAbsent } from '../helpers/authvectors.ts';
import { verifyMessage, type AuthVerdict } from '../../src/pipeline/verify/authenticate.ts';
import { dkimSign } from '../../src/pipeline/sign/dkim-sign.ts';
import { dkimDnsRecord } from '../../src/pipeline/sign/dkim-keys.ts';
import bodyMod from 'mailauth/lib/dkim/body/index.js';
import mailauthSign from 'mailauth/lib/dkim/sign.js';

const absent = vectorsAbsent('mailauth', 'expected.json');
const dir = (...p: string[]) => authvectorsDir('mailauth', ...p);
const file = (name: string) => readFileSync(dir(name));

/** Vector id → explanation of an accepted failure. Empty: all match. */
const KNOWN_DEVIATIONS: Record<string, string> = {};

/**
 * The body after the first empty line, in wire form (CRLF line ends): simple
 * canonicalisation is defined on the SMTP form (RFC 6376 3.4.3), and the fixture files
 * are stored with LF. (mailauth's own tests feed CRLF; the relaxed hash is the same either way.)
 */
function bodyOf(msg: Buffer): Buffer {
  const text = msg.toString('latin1');
  const m = /\r?\n\r?\n/.exec(text);
  return m ? Buffer.from(text.slice(m.index + m[0].length).replace(/\r?\n/g, '\r\n'), 'latin1') : Buffer.alloc(0);
}

function bodyHash(body: Buffer, canon: string, algo: string, l: number | false = false): string {
  const h = bodyMod.dkimBody(canon, algo, l);
  h.update(body);
  return h.digest('base64');
}

function tagOf(signed: Buffer, tag: string): string {
  const head = signed.toString('latin1').split(/\r?\n(?![ \t])/)[0]!.replace(/\r?\n[ \t]/g, ' ');
  const m = new RegExp(`[;:]\\s*${tag}=([^;]+)`).exec(head);
  return m ? m[1]!.replace(/\s+/g, '') : '';
}

async function verify(raw: Buffer, records: Record<string, string | string[] | string[][]>, now?: Date): Promise<AuthVerdict> {
  return verifyMessage({
    raw,
    clientIp: '192.0.2.1',
    helo: 'client.example',
    mailFrom: '',
    authservId: 'receiver.test',
    resolver: txtResolver(records),
    ...(now ? { now } : {}),
  });
}

test('mailauth DKIM vectors', { skip: absent ?? false }, async t => {
  const results: Array<{ id: string; ok: boolean }> = [];
  const check = async (id: string, fn: () => Promise<void> | void) => {
    await t.test(id, async () => {
      try {
        await fn();
        results.push({ id, ok: true });
      } catch (err) {
        results.push({ id, ok: false });
        if (!KNOWN_DEVIATIONS[id]) throw err;
      }
    });
  };
  const key = (n: string) => readFileSync(dir('fixtures', n), 'utf8');
  const msg1 = file('fixtures/message1.eml');

  await check('body hash message1 relaxed sha256 (and our signer writes it)', async () => {
    assert.equal(bodyHash(bodyOf(msg1), 'relaxed', 'sha256'), 'D2H5TEwtUgM2u8Ew0gG6vnt/Na6L+Zep7apmSmfy8IQ=');
    const signed = await dkimSign(msg1, [{ domain: 'example.com', selector: 's', privateKeyPem: key('private-rsa.pem'), algorithm: 'rsa-sha256' }]);
    assert.equal(tagOf(signed, 'bh'), 'D2H5TEwtUgM2u8Ew0gG6vnt/Na6L+Zep7apmSmfy8IQ=');
  });
  await check('body hash message1 simple sha256 (and our signer writes it)', async () => {
    assert.equal(bodyHash(bodyOf(msg1), 'simple', 'sha256'), 'GjyEkbey2OupCW5AKJv4dzTPsPHSaZjRDMqUSmhpTyQ=');
    const signed = await dkimSign(msg1, [{ domain: 'example.com', selector: 's', privateKeyPem: key('private-rsa.pem'), algorithm: 'rsa-sha256' }], {
      canonicalization: 'simple/simple',
    });
    assert.equal(tagOf(signed, 'bh'), 'GjyEkbey2OupCW5AKJv4dzTPsPHSaZjRDMqUSmhpTyQ=');
  });
  await check('body hash message1 with l=0 (relaxed and simple)', () => {
    assert.equal(bodyHash(bodyOf(msg1), 'relaxed', 'sha256', 0), '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=');
    assert.equal(bodyHash(bodyOf(msg1), 'simple', 'sha256', 0), '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=');
  });
  await check('body hash of an empty body, relaxed sha256 and sha1', () => {
    const body = bodyOf(Buffer.from('\r\n\r\n\n\r\n\r\n', 'latin1'));
    assert.equal(bodyHash(body, 'relaxed', 'sha256'), '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=');
    assert.equal(bodyHash(body, 'relaxed', 'sha1'), '2jmj7l5rSw0yVb/vlWAYkK/YBwk=');
  });
  await check('body hash relaxed with l=20', () => {
    const want = createHash('sha256').update('tere tere\r\n\r\nvana ke').digest('base64');
    assert.equal(bodyHash(Buffer.from('tere tere\r\n \r\nvana kere\r\n\r\n'), 'relaxed', 'sha256', 20), want);
  });
  await check('RFC 8463 dkim-ec/signed.eml: Ed25519 and RSA signatures pass', async () => {
    const table = JSON.parse(readFileSync(dir('dkim-ec', 'dns.json'), 'utf8')) as Record<string, { TXT?: string[][] }>;
    const records: Record<string, string[][]> = {};
    for (const [name, rr] of Object.entries(table)) if (rr.TXT) records[name] = rr.TXT;
    const v = await verify(file('dkim-ec/signed.eml'), records, new Date(1528637909 * 1000));
    const by = (s: string) => v.dkim.find(d => d.selector === s)?.result;
    assert.equal(by('brisbane'), 'pass', 'ed25519-sha256 s=brisbane');
    assert.equal(by('test'), 'pass', 'rsa-sha256 s=test');
    assert.equal(v.dkim.find(d => d.selector === 'brisbane')?.algorithm, 'ed25519-sha256');
  });
  await check('test keys: dual signature RSA-2048 + Ed25519 with our signer verifies against the published public keys', async () => {
    const signed = await dkimSign(file('fixtures/message2.eml'), [
      { domain: 'tahvel.info', selector: 'test.rsa', privateKeyPem: key('private-rsa.pem'), algorithm: 'rsa-sha256' },
      { domain: 'tahvel.info', selector: 'test.ed25519', privateKeyPem: key('private-ed25519.pem'), algorithm: 'ed25519-sha256' },
    ]);
    const v = await verify(signed, {
      'test.rsa._domainkey.tahvel.info': dkimDnsRecord(key('public-rsa.pem')),
      'test.ed25519._domainkey.tahvel.info': dkimDnsRecord(key('public-ed25519.pem')),
    });
    const mine = v.dkim.filter(d => d.domain === 'tahvel.info' && d.selector.startsWith('test.'));
    assert.deepEqual(mine.map(d => [d.selector, d.result]).sort(), [['test.ed25519', 'pass'], ['test.rsa', 'pass']]);
  });
  await check('RSA-512 key (private-small.pem): we refuse to sign, and a signature made with it is not a pass', async () => {
    const small = key('private-small.pem');
    await assert.rejects(
      dkimSign(file('fixtures/message2.eml'), [{ domain: 'tahvel.info', selector: 'test.small', privateKeyPem: small, algorithm: 'rsa-sha256' }]),
      /at least 1024/,
    );
    const msg = file('fixtures/message2.eml');
    const r = await mailauthSign.dkimSign(msg, { signatureData: [{ signingDomain: 'tahvel.info', selector: 'test.small', privateKey: small }] });
    const v = await verify(Buffer.concat([Buffer.from(r.signatures), msg]), {
      'test.small._domainkey.tahvel.info': dkimDnsRecordUnchecked(key('public-small.pem')),
    });
    const row = v.dkim.find(d => d.selector === 'test.small');
    assert.equal(row?.result, 'policy', 'weak key is reported as dkim=policy');
  });

  const passed = results.filter(r => r.ok).length;
  t.diagnostic(`mailauth vectors: ${passed}/${results.length} pass, known deviations ${Object.keys(KNOWN_DEVIATIONS).length}`);
  for (const id of Object.keys(KNOWN_DEVIATIONS)) {
    assert.equal(results.find(r => r.id === id)?.ok, false, `${id} is listed as a known deviation but passes`);
  }
});

/** A TXT record for a public key of any size (dkimDnsRecord refuses weak keys on purpose only for private keys). */
function dkimDnsRecordUnchecked(publicPem: string): string {
  const b64 = publicPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  return `v=DKIM1; k=rsa; p=${b64}`;
}
