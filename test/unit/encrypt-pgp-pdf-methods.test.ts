// The PGP and PDF methods inside the encrypt stage, with the real key store (a temporary
// database) and GnuPG / qpdf / pdftotext as the readers: what a recipient's client sees.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import PostalMime from 'postal-mime';
import { SETTINGS_DEFAULTS, type Settings } from '../../src/config/settings.ts';
import { openDatabase, type Db } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { MasterKey } from '../../src/keys/master-key.ts';
import { Pipeline } from '../../src/pipeline/pipeline.ts';
import type { MessageContext } from '../../src/pipeline/context.ts';
import { encryptStage } from '../../src/pipeline/encrypt/encrypt-stage.ts';
import type { SideMail } from '../../src/pipeline/encrypt/method.ts';
import { pgpMethod } from '../../src/pipeline/encrypt/pgp-method.ts';
import { pdfMethod } from '../../src/pipeline/encrypt/pdf-method.ts';
import { PgpKeyStore } from '../../src/pipeline/encrypt/pgp-key-store.ts';
import { PgpKeyGenerator } from '../../src/pipeline/encrypt/pgp-key-generator.ts';
import { readPgpKeys } from '../../src/pipeline/encrypt/pgp-keys.ts';
import { decryptInboundPgp, harvestInboundAutocrypt } from '../../src/pipeline/encrypt/pgp-inbound.ts';
import { contentTypeOf, multipartParts, splitMessage } from '../../src/pipeline/encrypt/mime-parts.ts';
import { Gpg } from '../helpers/gpg.ts';
import { EICAR_FILE } from '../helpers/attachments.ts';
import { decryptStage } from '../../src/pipeline/encrypt/decrypt-stage.ts';
import { pgpDecryptor } from '../../src/pipeline/encrypt/pgp-inbound.ts';
import { malwareStage } from '../../src/pipeline/filter/malware/stage.ts';

let dir: string;
let db: Db;
let keys: PgpKeyStore;
let generator: PgpKeyGenerator;
let bob: Gpg; // an external recipient with GnuPG
let settings: Settings;
const side: SideMail[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hermes-enc-'));
  db = openDatabase(join(dir, 'hermes.db'));
  await migrate(db);
  const mk = new MasterKey(randomBytes(32));
  keys = new PgpKeyStore({ db, masterKey: () => mk });
  generator = new PgpKeyGenerator(keys, pino({ level: 'silent' }));
  bob = new Gpg();
  const [bobKey] = await readPgpKeys(bob.generate('Bob <bob@partner.example>'));
  await keys.save('bob@partner.example', bobKey!, 'imported');
});
after(async () => {
  bob?.close();
  await db?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

const message = (to: string, subject = 'Quarterly figures') =>
  Buffer.from(`From: Alice <alice@ours.example>\r\nTo: ${to}\r\nSubject: ${subject}\r\nMessage-ID: <m-${randomBytes(4).toString('hex')}@ours.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nRevenue is up 12 %. Regards, Alice\r\n`);

function ctxFor(to: string, body: Buffer): MessageContext & { events: Array<{ type: string; detail: any }> } {
  const events: Array<{ type: string; detail: any }> = [];
  return {
    id: 'Q1',
    receivedAt: new Date(),
    client: { ip: '10.0.0.5', helo: 'client', ptr: null, tls: null, trusted: true },
    direction: 'outbound',
    mailFrom: 'alice@ours.example',
    recipients: [{ address: to, route: 'mx:partner.example', requireTls: false }],
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

async function send(to: string, s: Partial<Settings>, subject?: string) {
  settings = { ...SETTINGS_DEFAULTS, ...s };
  const stage = encryptStage({
    methods: () => [pgpMethod({ keys, generator, settings: () => settings, isInternal: (a) => a.endsWith('@ours.example') }), pdfMethod({ hostname: 'gw.ours.example' })],
    settings: () => settings,
    sendSideMail: async (_c, m) => void side.push(m),
    hostname: 'gw.ours.example',
  });
  const ctx = ctxFor(to, message(to, subject));
  const [out] = await new Pipeline([], [stage]).run(ctx);
  assert.ok(out, 'one copy');
  return { out: out!, events: ctx.events };
}

function encryptedPart(msg: Buffer): Buffer {
  return splitMessage(multipartParts(splitMessage(msg).body, contentTypeOf(msg).params.boundary!)[1]!).body;
}

test('opportunistic to a recipient with a key: PGP/MIME that gpg decrypts; the internal sender gets a key in the background, and the next message is signed by it', async () => {
  const first = await send('bob@partner.example', { 'encryption.policy': 'opportunistic' });
  assert.equal(contentTypeOf(first.out.body).type, 'multipart/encrypted', 'encrypted');
  const done = first.events.find((e) => e.type === 'encrypt' && e.detail.action === 'encrypted');
  assert.equal(done?.detail.method, 'pgp', 'by the PGP method');
  assert.equal(done?.detail.signed, false, 'not signed: the sender had no key');
  assert.match(done?.detail.unsignedReason, /being generated/, 'says why');
  const plain = bob.run(['--decrypt'], encryptedPart(first.out.body));
  assert.equal(plain.status, 0, `gpg decrypts: ${plain.stderr}`);
  assert.match(plain.stdout.toString(), /Revenue is up 12 %/, 'the body');

  await generator.idle();
  const alicePrivate = await keys.privateKey('alice@ours.example');
  assert.ok(alicePrivate, 'a key was generated for alice');
  bob.import(alicePrivate!.toPublic().armor());
  const second = await send('bob@partner.example', { 'encryption.policy': 'opportunistic' });
  const r = bob.run(['--status-fd', '2', '--decrypt'], encryptedPart(second.out.body));
  assert.equal(r.status, 0, `gpg decrypts the second: ${r.stderr}`);
  assert.match(r.stderr, new RegExp(`VALIDSIG ${alicePrivate!.getFingerprint().toUpperCase()}`), 'signed by alice\'s generated key');
});

test('policy sign: multipart/signed that gpg --verify accepts', async () => {
  const { out, events } = await send('bob@partner.example', { 'encryption.recipientPolicies': { 'bob@partner.example': 'sign' } });
  assert.equal(contentTypeOf(out.body).type, 'multipart/signed', `signed: ${JSON.stringify(events)}`);
  const [signed, sig] = multipartParts(splitMessage(out.body).body, contentTypeOf(out.body).params.boundary!);
  const r = bob.run(['--status-fd', '2', '--verify', bob.file('s.asc', splitMessage(sig!).body), bob.file('d', signed!)]);
  assert.equal(r.status, 0, `gpg --verify: ${r.stderr}`);
  assert.match(r.stderr, /GOODSIG/, 'good signature');
});

test('Autocrypt: a key harvested from an authenticated inbound message is used for the next message to its sender', async () => {
  const dana = new Gpg();
  try {
    dana.generate('Dana <dana@partner.example>');
    const keydata = dana.ok(['--export', 'dana@partner.example']).toString('base64');
    const inbound = Buffer.from(`From: Dana <dana@partner.example>\r\nTo: alice@ours.example\r\nSubject: hello\r\nAutocrypt: addr=dana@partner.example; prefer-encrypt=mutual; keydata=\r\n ${keydata.match(/.{1,72}/g)!.join('\r\n ')}\r\n\r\nHi Alice\r\n`);
    const before = await send('dana@partner.example', { 'encryption.policy': 'opportunistic' });
    assert.equal(contentTypeOf(before.out.body).type, 'text/plain', 'no key yet: plain');
    const unauthenticated = await harvestInboundAutocrypt(inbound, { keys, fromAuthenticated: false });
    assert.equal(unauthenticated?.harvested, false, 'not without DMARC pass');
    const harvested = await harvestInboundAutocrypt(inbound, { keys, fromAuthenticated: true });
    assert.equal(harvested?.harvested, true, `harvested: ${JSON.stringify(harvested)}`);
    const next = await send('dana@partner.example', { 'encryption.policy': 'opportunistic' });
    assert.equal(contentTypeOf(next.out.body).type, 'multipart/encrypted', 'now encrypted');
    dana.import((await keys.privateKey('alice@ours.example'))!.toPublic().armor()); // to check the signature inside
    const r = dana.run(['--decrypt'], encryptedPart(next.out.body));
    assert.equal(r.status, 0, `dana's gpg decrypts: ${r.stderr}`);
    assert.match(r.stdout.toString(), /Revenue is up/, 'the body');
    const again = await harvestInboundAutocrypt(inbound, { keys, fromAuthenticated: true });
    assert.equal(again?.reason, 'key already known', 'the same key is not stored twice');
  } finally {
    dana.close();
  }
});

test('inbound: mail encrypted by gpg to an internal key is decrypted, with its signature checked', async () => {
  const alice = (await keys.privateKey('alice@ours.example'))!;
  bob.import(alice.toPublic().armor());
  const armored = bob.ok(['--armor', '--recipient', 'alice@ours.example', '--local-user', 'bob@partner.example', '--sign', '--encrypt'], 'Content-Type: text/plain\r\n\r\nEICAR-free secret reply\r\n');
  const msg = Buffer.from(`From: bob@partner.example\r\nTo: alice@ours.example\r\nSubject: reply\r\nMIME-Version: 1.0\r\nContent-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="x"\r\n\r\n--x\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--x\r\nContent-Type: application/octet-stream\r\n\r\n${armored.toString().replace(/\r?\n/g, '\r\n')}--x--\r\n`);
  const r = await decryptInboundPgp(msg, { keys, recipients: ['alice@ours.example'] });
  assert.equal(r.kind, 'decrypted', `decrypted: ${JSON.stringify(r)}`);
  if (r.kind !== 'decrypted') return;
  assert.match(r.message.toString(), /^Subject: reply\r\n/m, 'outer header kept');
  assert.match(r.message.toString(), /EICAR-free secret reply/, 'the clear text, for the filters');
  assert.equal(r.detail.signature, 'valid', 'Bob\'s signature checked against his stored key');
  const notOurs = await decryptInboundPgp(msg, { keys, recipients: ['carol@ours.example'] });
  assert.deepEqual(notOurs, { kind: 'kept', reason: 'no private key held for the recipients' }, 'kept when we hold no key');
});

test('always, no key: a PDF cover mail to the recipient, the password to the sender; pdftotext opens it only with that password', async () => {
  side.length = 0;
  const { out, events } = await send('erin@nokey.example', { 'encryption.policy': 'always' }, 'Contract');
  const done = events.find((e) => e.type === 'encrypt' && e.detail.action === 'encrypted');
  assert.equal(done?.detail.method, 'pdf', `PDF: ${JSON.stringify(events)}`);
  const cover = await PostalMime.parse(out.body);
  assert.equal(cover.subject, 'Contract', 'subject kept');
  const pdf = cover.attachments.find((a) => a.mimeType === 'application/pdf');
  assert.ok(pdf, 'PDF attached');
  assert.equal(side.length, 1, 'one side mail');
  assert.equal(side[0]!.to, 'alice@ours.example', 'to the sender');
  const notice = await PostalMime.parse(side[0]!.message);
  const password = /Password: (\S+)/.exec(notice.text ?? '')?.[1];
  assert.ok(password, 'the notice has the password');
  assert.ok(!out.body.includes(password!), 'the cover mail does not');
  const file = join(dir, 'cover.pdf');
  writeFileSync(file, Buffer.from(pdf!.content as ArrayBuffer));
  const good = spawnSync('pdftotext', ['-upw', password!, file, '-'], { timeout: 60_000 });
  assert.equal(good.status, 0, `pdftotext with the password: ${good.stderr}`);
  assert.match(good.stdout.toString(), /Revenue is up 12 %/, 'the body');
  const bad = spawnSync('pdftotext', [file, '-'], { timeout: 60_000 });
  assert.notEqual(bad.status, 0, 'without it: fails');
});

test('the decrypt stage runs before the filters: the malware check finds EICAR inside a gpg-encrypted message', async () => {
  const alice = (await keys.privateKey('alice@ours.example'))!;
  bob.import(alice.toPublic().armor());
  const inner = `Content-Type: multipart/mixed; boundary="i"\r\n\r\n--i\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n--i\r\nContent-Type: application/octet-stream; name="eicar.com"\r\nContent-Disposition: attachment; filename="eicar.com"\r\nContent-Transfer-Encoding: base64\r\n\r\n${EICAR_FILE.toString('base64')}\r\n--i--\r\n`;
  const armored = bob.ok(['--armor', '--recipient', 'alice@ours.example', '--encrypt'], inner);
  const msg = Buffer.from(`From: bob@partner.example\r\nTo: alice@ours.example\r\nSubject: invoice\r\nMIME-Version: 1.0\r\nContent-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="x"\r\n\r\n--x\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--x\r\nContent-Type: application/octet-stream\r\n\r\n${armored.toString().replace(/\r?\n/g, '\r\n')}--x--\r\n`);
  const ctx = { ...ctxFor('alice@ours.example', msg), client: { ip: '192.0.2.9', helo: 'mx.partner.example', ptr: null, tls: null, trusted: false }, direction: 'inbound' as const, mailFrom: 'bob@partner.example' };
  const s = { ...SETTINGS_DEFAULTS };
  const stages = [decryptStage({ decryptors: () => [pgpDecryptor(keys)], settings: () => s, isInternal: (a) => a.endsWith('@ours.example') }), malwareStage({ settings: () => s })];
  const withDecrypt: typeof ctx = { ...ctx, findings: {} };
  await new Pipeline(stages).run(withDecrypt);
  assert.equal(withDecrypt.events.find((e) => e.type === 'decrypt')?.detail.action, 'decrypted', 'decrypted');
  assert.ok(withDecrypt.findings.malware?.infected.length, `EICAR found in the decrypted content: ${JSON.stringify(withDecrypt.findings.malware)}`);
  const off: typeof ctx = { ...ctx, findings: {}, events: [] };
  off.trace = (type, detail) => off.events.push({ type, detail });
  await new Pipeline([decryptStage({ decryptors: () => [pgpDecryptor(keys)], settings: () => ({ ...s, 'encryption.decryptInbound': false }), isInternal: () => true }), malwareStage({ settings: () => s })]).run(off);
  assert.ok(!off.findings.malware?.infected.length, 'with decryption off the ciphertext hides it (which is why decryption comes first)');
});
