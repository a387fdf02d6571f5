// DKIM keys, DKIM signing and ARC sealing details. OpenSSL reads the published key
// records independently of node:crypto.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { dnsError } from '../helpers/authvectors.ts';
import { verifyMessage, type Resolver } from '../../src/pipeline/verify/authenticate.ts';
import { dkimSign, DEFAULT_SIGNED_HEADERS } from '../../src/pipeline/sign/dkim-sign.ts';
import { arcSeal, sealCv } from '../../src/pipeline/sign/arc-seal.ts';
import {
  dkimDnsName,
  dkimDnsRecord,
  dkimZoneLine,
  generateDkimKey,
  importDkimPrivateKey,
  txtChunks,
} from '../../src/pipeline/sign/dkim-keys.ts';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

function openssl(args: string[], input: Buffer): string {
  const r = spawnSync('openssl', args, { input });
  assert.equal(r.status, 0, r.stderr.toString());
  return r.stdout.toString();
}

const pFrom = (txt: string) => Buffer.from(/p=([^;]+)/.exec(txt)![1]!, 'base64');

test('RSA-2048 key: the TXT record carries an SPKI that OpenSSL reads as the same 2048-bit key', { skip: hasOpenssl ? false : 'openssl not installed' }, async () => {
  const k = await generateDkimKey('rsa-sha256');
  assert.equal(k.bits, 2048);
  assert.match(k.dnsTxt, /^v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+=*$/);
  const fromRecord = openssl(['pkey', '-pubin', '-inform', 'DER', '-outform', 'PEM'], pFrom(k.dnsTxt));
  const fromPrivate = openssl(['pkey', '-pubout'], Buffer.from(k.privateKeyPem));
  assert.equal(fromRecord, fromPrivate);
  assert.match(openssl(['pkey', '-pubin', '-inform', 'DER', '-text', '-noout'], pFrom(k.dnsTxt)), /2048 bit/);
  assert.equal(dkimDnsRecord(k.publicKeyPem), k.dnsTxt);
  assert.equal(dkimDnsRecord(k.privateKeyPem), k.dnsTxt);
});

test('Ed25519 key: the TXT record is the raw 32-byte public key (RFC 8463), as OpenSSL derives it', { skip: hasOpenssl ? false : 'openssl not installed' }, async () => {
  const k = await generateDkimKey('ed25519-sha256');
  assert.match(k.dnsTxt, /^v=DKIM1; k=ed25519; p=/);
  const raw = pFrom(k.dnsTxt);
  assert.equal(raw.length, 32);
  const der = spawnSync('openssl', ['pkey', '-pubout', '-outform', 'DER'], { input: k.privateKeyPem }).stdout;
  assert.deepEqual(raw, der.subarray(der.length - 32));
});

test('import: PKCS#1 accepted, short RSA and other key types refused; zone-file helpers', () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const pkcs1 = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  assert.equal(importDkimPrivateKey(pkcs1).algorithm, 'rsa-sha256');
  const small = generateKeyPairSync('rsa', { modulusLength: 512 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  assert.throws(() => importDkimPrivateKey(small), /at least 1024/);
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  assert.throws(() => importDkimPrivateKey(ec), /RSA or Ed25519/);
  assert.throws(() => importDkimPrivateKey('not a key'), /not a usable private key/);
  assert.equal(dkimDnsName('Sel1', 'Example.ORG.'), 'sel1._domainkey.example.org');
  const long = 'v=DKIM1; k=rsa; p=' + 'A'.repeat(400);
  assert.deepEqual(txtChunks(long).map(c => c.length), [255, 163]);
  assert.equal(txtChunks(long).join(''), long);
  assert.match(dkimZoneLine('s', 'example.org', long), /^s\._domainkey\.example\.org\. IN TXT \( "v=DKIM1; k=rsa; p=A+" "A+" \)$/);
});

const MSG = 'From: a@example.org\r\nTo: b@example.net\r\nSubject: s\r\nDate: Tue, 03 Jun 2025 10:00:00 +0000\r\nMessage-ID: <m@x>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\nX-Mailer: test\r\n\r\nhello\r\n';

function txt(zone: Record<string, string>): Resolver {
  return async (name, rrtype) => {
    const v = zone[name.toLowerCase()];
    if (v === undefined) throw dnsError('ENOTFOUND', name, rrtype);
    return [[v]];
  };
}

test('dkimSign: relaxed/relaxed, the expected header list with From oversigned, prepended in key order', async () => {
  const rsa = await generateDkimKey('rsa-sha256');
  const ed = await generateDkimKey('ed25519-sha256');
  const out = await dkimSign(
    Buffer.from(MSG),
    [
      { domain: 'example.org', selector: 'r', privateKeyPem: rsa.privateKeyPem, algorithm: 'rsa-sha256' },
      { domain: 'example.org', selector: 'e', privateKeyPem: ed.privateKeyPem, algorithm: 'ed25519-sha256' },
    ],
    { signTime: new Date('2025-06-03T10:00:00Z') },
  );
  const text = out.toString();
  assert.ok(text.endsWith(MSG), 'the original bytes follow unchanged');
  const sigs = text.slice(0, text.length - MSG.length).split(/\r\n(?![ \t])/).filter(Boolean);
  assert.equal(sigs.length, 2);
  assert.match(sigs[0]!, /^DKIM-Signature: .*a=rsa-sha256/s);
  assert.match(sigs[1]!, /^DKIM-Signature: .*a=ed25519-sha256/s);
  for (const s of sigs) {
    const flat = s.replace(/\r\n[ \t]/g, ' ');
    assert.match(flat, /c=relaxed\/relaxed/);
    assert.match(flat, /t=1748944800/);
    const h = /h=([^;]+)/.exec(flat)![1]!.split(':').map(x => x.trim().toLowerCase());
    assert.equal(h.filter(x => x === 'from').length, 2, 'From is signed once more than it occurs');
    for (const name of ['to', 'subject', 'date', 'message-id', 'mime-version', 'content-type']) assert.ok(h.includes(name), name);
    assert.ok(!h.includes('x-mailer'));
  }
  const v = await verifyMessage({
    raw: out,
    clientIp: '192.0.2.1',
    helo: 'h',
    mailFrom: '',
    authservId: 'gw',
    resolver: txt({ 'r._domainkey.example.org': rsa.dnsTxt, 'e._domainkey.example.org': ed.dnsTxt }),
  });
  assert.deepEqual(v.dkim.map(d => d.result), ['pass', 'pass']);
  assert.ok(DEFAULT_SIGNED_HEADERS.includes('From'));
});

test('dkimSign: keeps LF line ends of an LF message; no keys → unchanged; a bad key is an error', async () => {
  const rsa = await generateDkimKey('rsa-sha256');
  const lf = Buffer.from(MSG.replace(/\r\n/g, '\n'));
  const out = (await dkimSign(lf, [{ domain: 'example.org', selector: 'r', privateKeyPem: rsa.privateKeyPem, algorithm: 'rsa-sha256' }])).toString();
  assert.ok(!out.includes('\r'));
  assert.equal(await dkimSign(lf, []), lf);
  const ed = await generateDkimKey('ed25519-sha256');
  await assert.rejects(
    dkimSign(lf, [{ domain: 'example.org', selector: 'x', privateKeyPem: ed.privateKeyPem, algorithm: 'rsa-sha256' }]),
    /DKIM signing failed: x\._domainkey\.example\.org: key is ed25519/,
  );
  await assert.rejects(dkimSign(lf, [{ domain: 'example.org', selector: 'x', privateKeyPem: 'garbage', algorithm: 'rsa-sha256' }]), /DKIM signing failed/);
});

test('arcSeal: cv from the arrival status; no set on cv=fail chains, temperror or 50 sets; RSA only', async () => {
  assert.deepEqual(sealCv({ result: 'none', instance: 0, shouldSeal: true }), { cv: 'none' });
  assert.deepEqual(sealCv({ result: 'pass', instance: 3, shouldSeal: true }), { cv: 'pass' });
  assert.deepEqual(sealCv({ result: 'fail', instance: 1, shouldSeal: true }), { cv: 'fail' });
  assert.ok('reason' in sealCv({ result: 'fail', instance: 2, shouldSeal: false }));
  assert.ok('reason' in sealCv({ result: 'temperror', instance: 1, shouldSeal: false }));
  assert.ok('reason' in sealCv({ result: 'pass', instance: 50, shouldSeal: true }));

  const arcKey = await generateDkimKey('rsa-sha256');
  const key = { domain: 'gw.example.net', selector: 'arc', privateKeyPem: arcKey.privateKeyPem };
  const notSealed = await arcSeal(Buffer.from(MSG), { key, arrival: { result: 'fail', instance: 2, shouldSeal: false }, authResults: 'gw.example.net; arc=fail' });
  assert.equal(notSealed.sealed, false);
  assert.equal(notSealed.message.toString(), MSG);

  const sealed = await arcSeal(Buffer.from(MSG), {
    key,
    arrival: { result: 'none', instance: 0, shouldSeal: true },
    authResults: 'gw.example.net;\r\n\tspf=pass smtp.mailfrom=a@example.org',
    signTime: new Date('2025-06-03T10:00:00Z'),
  });
  const text = sealed.message.toString();
  assert.match(text.replace(/\r\n[ \t]+/g, ' '), /^ARC-Seal: i=1; a=rsa-sha256; t=1748944800; cv=none; d=gw\.example\.net; s=arc;/);
  assert.match(text, /\r\nARC-Authentication-Results: i=1; gw\.example\.net;\r\n\tspf=pass smtp\.mailfrom=a@example\.org\r\n/);
  assert.ok(text.endsWith(MSG));

  const ed = await generateDkimKey('ed25519-sha256');
  await assert.rejects(
    arcSeal(Buffer.from(MSG), { key: { ...key, privateKeyPem: ed.privateKeyPem }, arrival: { result: 'none', instance: 0, shouldSeal: true }, authResults: 'gw; none' }),
    /needs an RSA key/,
  );
});
