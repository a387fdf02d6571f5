// S/MIME against OpenSSL, an implementation we did not write: what we encrypt and sign,
// `openssl cms -decrypt` and `openssl smime -verify` read; what `openssl smime -encrypt`
// and `-sign` make, we decrypt and verify (and harvest the signer's certificate, which
// the next outbound message is then encrypted to). Key store, internal CA and PKCS#12
// import through the service, as an admin would.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { openDatabase, type Db } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { MasterKey } from '../../src/keys/master-key.ts';
import { SETTINGS_DEFAULTS, type Settings } from '../../src/config/settings.ts';
import { configSerial } from '../../src/config/settings.ts';
import { cliActor } from '../../src/services/actor.ts';
import { exportKey, generateKey, importKeys, listKeys, revokeKey } from '../../src/services/encryption-key-service.ts';
import { SmimeKeyring } from '../../src/pipeline/encrypt/smime-keyring.ts';
import { smimeMethod } from '../../src/pipeline/encrypt/smime-method.ts';
import { smimeInboundStage } from '../../src/pipeline/encrypt/smime-inbound-stage.ts';
import { encryptStage } from '../../src/pipeline/encrypt/encrypt-stage.ts';
import type { MessageContext } from '../../src/pipeline/context.ts';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'hermes-smime-'));
const f = (n: string) => join(dir, n);
let db: Db;
const mk = new MasterKey(randomBytes(32));
let serial = 0;
let settings: Settings = { ...SETTINGS_DEFAULTS };
let keyring: SmimeKeyring;

function openssl(args: string[], input?: Buffer): { status: number | null; out: Buffer; err: string } {
  const r = spawnSync('openssl', args, { input });
  return { status: r.status, out: r.stdout, err: r.stderr.toString() };
}

/** A test CA of our own making (not the gateway's) and an end-entity certificate for `who`. */
function makeExternal(name: string, ca: string) {
  writeFileSync(f(`${name}.ext`), `subjectAltName=email:${name}@far.test\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=emailProtection\nbasicConstraints=CA:FALSE\n`);
  assert.equal(openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${name}.key`), '-subj', `/CN=${name}`, '-out', f(`${name}.csr`)]).status, 0);
  const r = openssl(['x509', '-req', '-in', f(`${name}.csr`), '-CA', f(`${ca}.pem`), '-CAkey', f(`${ca}.key`), '-CAcreateserial', '-days', '30', '-extfile', f(`${name}.ext`), '-out', f(`${name}.pem`)]);
  assert.equal(r.status, 0, r.err);
}

/** As SMTP carries it: CRLF line ends (OpenSSL writes LF). */
const crlf = (b: Buffer) => Buffer.from(b.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');

function ctxFor(o: { trusted: boolean; from: string; to: string[]; body: Buffer }): MessageContext & { events: Array<{ type: string; detail: any }> } {
  const events: Array<{ type: string; detail: any }> = [];
  return {
    id: 'Q1', receivedAt: new Date(), client: { ip: '127.0.0.1', helo: 'x', ptr: null, tls: null, trusted: o.trusted }, direction: o.trusted ? 'outbound' : 'inbound',
    mailFrom: o.from, recipients: o.to.map((address) => ({ address, route: 'mx:x', requireTls: false })), original: o.body, prepend: [], body: o.body, reject: null, findings: {},
    log: pino({ level: 'silent' }), trace: (type, detail) => events.push({ type, detail }), events,
  };
}

const outbound = (subject: string, to = 'bob@far.test') =>
  Buffer.from(`From: Alice <alice@ours.test>\r\nTo: ${to}\r\nSubject: ${subject}\r\nDate: Wed, 02 Dec 2026 10:00:00 +0000\r\nMessage-ID: <t1@ours.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nThe figures: 42 €.\r\n`);

const stage = () =>
  encryptStage({
    methods: () => [smimeMethod({ keyring, settings: () => settings, isInternal: (a) => a.endsWith('@ours.test') })],
    settings: () => settings,
    sendSideMail: async () => {},
    hostname: 'gw.ours.test',
  });

before(async () => {
  if (!hasOpenssl) return;
  db = openDatabase(f('hermes.db'));
  await migrate(db);
  await db.insertInto('relay_domains').values({ domain: 'ours.test', next_hop: null, require_tls: 0, recipient_mode: 'any', created_at: Date.now() }).execute();
  keyring = new SmimeKeyring({ db, masterKey: () => mk, serial: () => serial, hostname: 'gw.ours.test', systemBundle: null });
  // The far side's CA (OpenSSL-made), trusted by the admin as an anchor.
  assert.equal(openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('farca.key'), '-subj', '/CN=Far CA', '-days', '60', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', f('farca.pem')]).status, 0);
  makeExternal('bob', 'farca');
  makeExternal('carol', 'farca');
  await importKeys(db, cliActor(), mk, 'smime', { data: readFileSync(f('farca.pem')), ca: true });
  await importKeys(db, cliActor(), mk, 'smime', { data: readFileSync(f('bob.pem')) });
  // Alice is internal: the internal CA issues her certificate.
  await generateKey(db, cliActor(), mk, 'smime', 'alice@ours.test', { hostname: 'gw.ours.test', isLocalDomain: (d) => d === 'ours.test' });
  writeFileSync(f('ourca.pem'), (await exportKey(db, cliActor(), { ca: true })).publicMaterial);
  serial = await configSerial(db);
});

after(async () => {
  await db?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

const opt = { skip: hasOpenssl ? false : 'openssl not installed' };

for (const transport of ['rsa-pkcs1', 'rsa-oaep'] as const) {
  test(`[encrypt] to an imported certificate (${transport}): openssl cms -decrypt reads it, and openssl smime -verify checks Alice's signature inside`, opt, async () => {
    settings = { ...SETTINGS_DEFAULTS, 'encryption.smimeKeyTransport': transport };
    const ctx = ctxFor({ trusted: true, from: 'alice@ours.test', to: ['bob@far.test'], body: outbound('[encrypt] Quarterly figures') });
    await stage().run(ctx);
    const sent = ctx.body.toString('latin1');
    assert.match(sent, /^Subject: Quarterly figures\r$/m, 'keyword removed, outer headers kept');
    assert.match(sent, /Content-Type: application\/pkcs7-mime; smime-type=enveloped-data/);
    assert.doesNotMatch(sent, /figures: 42/, 'the body is not readable in transit');
    const enc = ctx.events.find((e) => e.type === 'encrypt' && e.detail.action === 'encrypted');
    assert.equal(enc?.detail.signed, true, JSON.stringify(ctx.events));
    writeFileSync(f('out.eml'), ctx.body);
    const dec = openssl(['cms', '-decrypt', '-in', f('out.eml'), '-recip', f('bob.pem'), '-inkey', f('bob.key')]);
    assert.equal(dec.status, 0, dec.err);
    const cmsInfo = openssl(['cms', '-cmsout', '-print', '-in', f('out.eml')]).out.toString();
    assert.match(cmsInfo, transport === 'rsa-oaep' ? /rsaesOaep/ : /rsaEncryption/);
    assert.match(cmsInfo, /aes-256-cbc/);
    writeFileSync(f('inner.eml'), dec.out);
    const ver = openssl(['smime', '-verify', '-in', f('inner.eml'), '-CAfile', f('ourca.pem')]);
    assert.equal(ver.status, 0, ver.err);
    assert.match(ver.err, /Verification successful/);
    assert.match(ver.out.toString('utf8'), /The figures: 42 €\./);
  });
}

test('policy sign: a clear-signed message that openssl smime -verify accepts with the internal CA', opt, async () => {
  settings = { ...SETTINGS_DEFAULTS, 'encryption.policy': 'sign' };
  const ctx = ctxFor({ trusted: true, from: 'alice@ours.test', to: ['dave@else.test'], body: outbound('Signed only') });
  await stage().run(ctx);
  assert.match(ctx.body.toString(), /Content-Type: multipart\/signed; protocol="application\/pkcs7-signature"; micalg=sha-256/);
  writeFileSync(f('signed.eml'), ctx.body);
  const ver = openssl(['smime', '-verify', '-in', f('signed.eml'), '-CAfile', f('ourca.pem')]);
  assert.equal(ver.status, 0, ver.err);
  // Someone else's CA does not vouch for it.
  assert.notEqual(openssl(['smime', '-verify', '-in', f('signed.eml'), '-CAfile', f('farca.pem')]).status, 0);
});

test('openssl smime -encrypt to an internal recipient: decrypted before the filters (original replaced), with the trace', opt, async () => {
  settings = { ...SETTINGS_DEFAULTS };
  const alice = (await listKeys(db, cliActor(), { address: 'alice@ours.test' }))[0]!;
  writeFileSync(f('alice.pem'), (await exportKey(db, cliActor(), String(alice.id))).publicMaterial);
  writeFileSync(f('plain.txt'), 'Content-Type: text/plain\r\n\r\nEICAR-like secret payload\r\n');
  const r = openssl(['smime', '-encrypt', '-aes256', '-in', f('plain.txt'), '-from', 'bob@far.test', '-to', 'alice@ours.test', '-subject', 'For you', f('alice.pem')]);
  assert.equal(r.status, 0, r.err);
  const ctx = ctxFor({ trusted: false, from: 'bob@far.test', to: ['alice@ours.test'], body: crlf(r.out) });
  await smimeInboundStage({ keyring, settings: () => settings }).run(ctx);
  assert.match(ctx.body.toString(), /EICAR-like secret payload/);
  assert.equal(ctx.original, ctx.body, 'the filters read ctx.original: they see the content');
  assert.match(ctx.body.toString(), /^Subject: For you\r$/m);
  assert.ok(ctx.events.some((e) => e.type === 'smime-inbound' && e.detail.decrypted === true), JSON.stringify(ctx.events));
  assert.match(ctx.prepend.join(''), /X-Hermes-Encryption: decrypted S\/MIME \(aes-256-cbc, rsa-pkcs1\)/);
});

test('a message openssl smime -sign made is verified, its certificate harvested, and the next message to that sender goes encrypted', opt, async () => {
  settings = { ...SETTINGS_DEFAULTS, 'encryption.policy': 'opportunistic' };
  serial = -1; // (a value the database never has: the cache starts afresh)
  // Before: nothing known for carol, so the opportunistic policy sends plain.
  let ctx = ctxFor({ trusted: true, from: 'alice@ours.test', to: ['carol@far.test'], body: outbound('Hi', 'carol@far.test') });
  await stage().run(ctx);
  assert.doesNotMatch(ctx.body.toString(), /pkcs7-mime/);
  writeFileSync(f('c.txt'), 'Content-Type: text/plain\r\n\r\nSigned by carol\r\n');
  const r = openssl(['smime', '-sign', '-in', f('c.txt'), '-signer', f('carol.pem'), '-inkey', f('carol.key'), '-from', 'carol@far.test', '-to', 'alice@ours.test', '-subject', 'signed']);
  assert.equal(r.status, 0, r.err);
  const inbound = ctxFor({ trusted: false, from: 'carol@far.test', to: ['alice@ours.test'], body: crlf(r.out) });
  await smimeInboundStage({ keyring, settings: () => settings }).run(inbound);
  const t = inbound.events.find((e) => e.type === 'smime-inbound');
  assert.equal(t?.detail.signature, 'valid', JSON.stringify(inbound.events));
  assert.match(t?.detail.harvest, /^stored certificate/);
  const stored = await listKeys(db, cliActor(), { address: 'carol@far.test' });
  assert.equal(stored[0]?.source, 'harvested');
  serial = await configSerial(db);
  ctx = ctxFor({ trusted: true, from: 'alice@ours.test', to: ['carol@far.test'], body: outbound('Hi again', 'carol@far.test') });
  await stage().run(ctx);
  assert.match(ctx.body.toString(), /pkcs7-mime/, JSON.stringify(ctx.events));
  writeFileSync(f('toc.eml'), ctx.body);
  const dec = openssl(['cms', '-decrypt', '-in', f('toc.eml'), '-recip', f('carol.pem'), '-inkey', f('carol.key')]);
  assert.equal(dec.status, 0, dec.err);
  assert.match(dec.out.toString('utf8'), /The figures: 42/);
});

test('a tampered signature is not harvested; a signer from an untrusted CA is not either', opt, async () => {
  settings = { ...SETTINGS_DEFAULTS };
  assert.equal(openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('evilca.key'), '-subj', '/CN=Evil CA', '-days', '10', '-addext', 'basicConstraints=critical,CA:TRUE', '-out', f('evilca.pem')]).status, 0);
  makeExternal('erin', 'evilca');
  writeFileSync(f('e.txt'), 'Content-Type: text/plain\r\n\r\nHello\r\n');
  const signed = crlf(openssl(['smime', '-sign', '-in', f('e.txt'), '-signer', f('erin.pem'), '-inkey', f('erin.key'), '-from', 'erin@far.test']).out);
  let ctx = ctxFor({ trusted: false, from: 'erin@far.test', to: ['alice@ours.test'], body: signed });
  await smimeInboundStage({ keyring, settings: () => settings }).run(ctx);
  assert.match(ctx.events.find((e) => e.type === 'smime-inbound')?.detail.harvest, /not stored: .*does not chain to a trusted CA/);
  const tampered = Buffer.from(signed.toString('latin1').replace('Hello', 'Hellp'), 'latin1');
  ctx = ctxFor({ trusted: false, from: 'erin@far.test', to: ['alice@ours.test'], body: tampered });
  await smimeInboundStage({ keyring, settings: () => settings }).run(ctx);
  assert.equal(ctx.events.find((e) => e.type === 'smime-inbound')?.detail.signature, 'invalid');
  assert.equal((await listKeys(db, cliActor(), { address: 'erin@far.test' })).length, 0);
});

test('PKCS#12 import (openssl pkcs12 -export): the key is sealed, the certificate listed; revoked keys are no longer used', opt, async () => {
  const r = openssl(['pkcs12', '-export', '-in', f('bob.pem'), '-inkey', f('bob.key'), '-certfile', f('farca.pem'), '-passout', 'pass:s3cret', '-out', f('bob.p12')]);
  assert.equal(r.status, 0, r.err);
  await assert.rejects(importKeys(db, cliActor(), mk, 'smime', { data: readFileSync(f('bob.p12')), password: 'wrong' }), /wrong password|cannot open/);
  const [view] = await importKeys(db, cliActor(), mk, 'smime', { data: readFileSync(f('bob.p12')), password: 's3cret' });
  assert.equal(view?.address, 'bob@far.test');
  assert.equal(view?.hasPrivateKey, true);
  const row = await db.selectFrom('encryption_keys').selectAll().where('id', '=', view!.id).executeTakeFirstOrThrow();
  assert.doesNotMatch(row.private_material ?? '', /PRIVATE KEY/, 'sealed at rest');
  serial = await configSerial(db);
  assert.equal((await keyring.usable('bob@far.test', 'encrypt', new Date())).ok, true);
  await revokeKey(db, cliActor(), view!.fingerprint);
  serial = await configSerial(db);
  const u = await keyring.usable('bob@far.test', 'encrypt', new Date());
  assert.equal(u.ok, false, 'revoked: not used');
});

test('an expired certificate is not used: always holds the copy and says why', opt, async () => {
  writeFileSync(f('old.ext'), 'subjectAltName=email:old@far.test\nextendedKeyUsage=emailProtection\n');
  openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('old.key'), '-subj', '/CN=old', '-out', f('old.csr')]);
  // Valid for one day, judged 40 days later.
  assert.equal(openssl(['x509', '-req', '-in', f('old.csr'), '-CA', f('farca.pem'), '-CAkey', f('farca.key'), '-CAcreateserial', '-days', '1', '-extfile', f('old.ext'), '-out', f('old.pem')]).status, 0);
  await importKeys(db, cliActor(), mk, 'smime', { data: readFileSync(f('old.pem')) });
  serial = await configSerial(db);
  settings = { ...SETTINGS_DEFAULTS, 'encryption.policy': 'always' };
  const later = new Date(Date.now() + 40 * 86_400_000);
  const s = encryptStage({ methods: () => [smimeMethod({ keyring, settings: () => settings, isInternal: () => false })], settings: () => settings, sendSideMail: async () => {}, hostname: 'gw', now: () => later });
  const ctx = ctxFor({ trusted: true, from: 'alice@ours.test', to: ['old@far.test'], body: outbound('x', 'old@far.test') });
  await s.run(ctx);
  assert.equal(ctx.hold?.category, 'encryption');
  assert.match(ctx.hold!.reason, /smime: no S\/MIME certificate known for old@far.test/, ctx.hold!.reason);
  const listed = await listKeys(db, cliActor(), { address: 'old@far.test' });
  assert.match(listed[0]!.warning ?? '', /expires in 0 days|expires in 1 days/);
});
