// PGP/MIME against GnuPG: gpg reads what we encrypt and sign; we read what gpg
// encrypts and signs. Each message is built by one side and judged by the other.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Gpg } from '../helpers/gpg.ts';
import { generatePgpKey, readPgpKey, readPgpKeys, readPrivateKey, pgpKeyInfo, type PgpKey, type PgpPrivateKey } from '../../src/pipeline/encrypt/pgp-keys.ts';
import { decryptPgpMime, encryptPgpMime, isPgpEncrypted, isPgpSigned, signPgpMime, verifyPgpMime } from '../../src/pipeline/encrypt/pgp-mime.ts';
import { contentEntity, contentTypeOf, multipartParts, splitMessage } from '../../src/pipeline/encrypt/mime-parts.ts';

const MESSAGE = Buffer.from(
  [
    'Received: from client.example.com by mx.example.com',
    'From: Alice <alice@example.com>',
    'To: Bob <bob@partner.example>',
    'Subject: quarterly figures',
    'Date: Wed, 02 Dec 2026 14:00:00 +0000',
    'Message-ID: <q4@example.com>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    'The figures are in the attachment. Grüße, Alice',
    '--b1',
    'Content-Type: application/octet-stream; name="q4.bin"',
    'Content-Transfer-Encoding: base64',
    'Content-Disposition: attachment; filename="q4.bin"',
    '',
    Buffer.from('binary \x00\x01\x02 figures').toString('base64'),
    '--b1--',
    '',
  ].join('\r\n'),
);

let gpg: Gpg;
let bobPublic: PgpKey; // an external recipient's key, made by gpg
let alice: PgpPrivateKey; // an internal sender's key, made by us
let alicePublicArmored: string;

before(async () => {
  gpg = new Gpg();
  bobPublic = (await readPgpKeys(gpg.generate('Bob <bob@partner.example>')))[0]!;
  const generated = await generatePgpKey({ address: 'alice@example.com', name: 'Alice' });
  alice = await readPrivateKey(generated.privateArmored);
  alicePublicArmored = generated.publicArmored;
  gpg.import(alicePublicArmored);
});
after(() => gpg?.close());

describe('what we send, gpg reads', () => {
  test('encrypted and signed: gpg --decrypt gives back the MIME entity and a good signature by our key', async () => {
    const out = await encryptPgpMime(MESSAGE, { encryptionKeys: [bobPublic], signingKey: alice });
    assert.ok(isPgpEncrypted(out), 'multipart/encrypted with protocol application/pgp-encrypted');
    const head = splitMessage(out).fields.map((f) => f.raw).join('');
    assert.match(head, /^Subject: quarterly figures\r$/m, 'the header fields stay readable');
    assert.doesNotMatch(out.toString('latin1'), /Grüße|figures are in/, 'no clear text left');
    const parts = multipartParts(splitMessage(out).body, contentTypeOf(out).params.boundary!);
    assert.equal(parts.length, 2, 'control part and encrypted part');
    const r = gpg.run(['--status-fd', '2', '--decrypt'], splitMessage(parts[1]!).body);
    assert.equal(r.status, 0, `gpg --decrypt succeeds: ${r.stderr}`);
    assert.deepEqual(r.stdout, contentEntity(MESSAGE), 'gpg gets the entity byte for byte');
    assert.match(r.stderr, /\[GNUPG:\] GOODSIG/, `gpg reports a good signature: ${r.stderr}`);
    const info = await pgpKeyInfo(alice);
    assert.match(r.stderr, new RegExp(`VALIDSIG ${info.fingerprint}`), 'made by the internal sender key');
  });

  test('signed only: gpg --verify accepts the detached signature over the first part; a changed byte fails', async () => {
    const out = await signPgpMime(MESSAGE, { signingKey: alice });
    assert.ok(isPgpSigned(out), 'multipart/signed with protocol application/pgp-signature');
    assert.match(contentTypeOf(out).params.micalg ?? '', /^pgp-sha256$/, 'micalg names the hash');
    const [signed, sig] = multipartParts(splitMessage(out).body, contentTypeOf(out).params.boundary!);
    assert.deepEqual(signed, contentEntity(MESSAGE), 'the signed part is the entity as it was');
    const sigFile = gpg.file('sig.asc', splitMessage(sig!).body);
    const good = gpg.run(['--status-fd', '2', '--verify', sigFile, gpg.file('data', signed!)]);
    assert.equal(good.status, 0, `gpg --verify succeeds: ${good.stderr}`);
    assert.match(good.stderr, /\[GNUPG:\] GOODSIG/, 'good signature');
    const tampered = Buffer.from(signed!);
    tampered[tampered.length - 5] = tampered[tampered.length - 5]! ^ 1;
    const bad = gpg.run(['--status-fd', '2', '--verify', sigFile, gpg.file('data2', tampered)]);
    assert.notEqual(bad.status, 0, 'a changed byte fails');
    assert.match(bad.stderr, /BADSIG/, 'gpg says BADSIG');
  });
});

describe('what gpg sends, we read', () => {
  function pgpMimeAround(armored: Buffer): Buffer {
    return Buffer.from(
      [
        'From: Bob <bob@partner.example>',
        'To: Alice <alice@example.com>',
        'Subject: re: quarterly figures',
        'MIME-Version: 1.0',
        'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted";',
        ' boundary="gpgb"',
        '',
        '--gpgb',
        'Content-Type: application/pgp-encrypted',
        '',
        'Version: 1',
        '',
        '--gpgb',
        'Content-Type: application/octet-stream',
        '',
        armored.toString('latin1').replace(/\r?\n/g, '\r\n'),
        '--gpgb--',
        '',
      ].join('\r\n'),
    );
  }
  const reply = 'Content-Type: text/plain; charset=us-ascii\n\nThanks, received.\n';

  test('encrypted by gpg to the internal key: decrypted, outer header kept, line ends CRLF', async () => {
    const armored = gpg.ok(['--armor', '--recipient', 'alice@example.com', '--encrypt'], reply);
    const r = await decryptPgpMime(pgpMimeAround(armored), { decryptionKeys: [alice] });
    const text = r.message.toString('latin1');
    assert.match(text, /^Subject: re: quarterly figures\r$/m, 'outer fields kept');
    assert.match(text, /^Content-Type: text\/plain; charset=us-ascii\r\n\r\nThanks, received\.\r\n$/m, 'the entity decrypted, CRLF');
    assert.doesNotMatch(text, /multipart\/encrypted/, 'the wrapper is gone');
    assert.equal(r.decryptedWith, (await pgpKeyInfo(alice)).fingerprint, 'decrypted with the internal key');
    assert.deepEqual(r.signatures, [], 'not signed');
  });

  test('signed and encrypted by gpg: the signature verifies with the harvested key, and fails with no key', async () => {
    const armored = gpg.ok(['--armor', '--recipient', 'alice@example.com', '--local-user', 'bob@partner.example', '--sign', '--encrypt'], reply);
    const withKey = await decryptPgpMime(pgpMimeAround(armored), { decryptionKeys: [alice], verificationKeys: [bobPublic] });
    assert.equal(withKey.signatures.length, 1, 'one signature');
    assert.equal(withKey.signatures[0]!.valid, true, `valid: ${withKey.signatures[0]!.error}`);
    assert.equal(withKey.signatures[0]!.fingerprint, (await pgpKeyInfo(bobPublic)).fingerprint, "Bob's key");
    const noKey = await decryptPgpMime(pgpMimeAround(armored), { decryptionKeys: [alice] });
    assert.equal(noKey.signatures[0]!.valid, false, 'without the key it cannot verify');
  });

  test('encrypted to a key we do not hold: a clear error', async () => {
    const armored = gpg.ok(['--armor', '--recipient', 'bob@partner.example', '--encrypt'], reply);
    await assert.rejects(decryptPgpMime(pgpMimeAround(armored), { decryptionKeys: [alice] }), /none of the keys we hold/);
  });

  test('a gpg-signed multipart/signed message verifies; a changed body does not', async () => {
    const entity = Buffer.from('Content-Type: text/plain; charset=us-ascii\r\n\r\nSigned by gpg.\r\n');
    const sig = gpg.ok(['--armor', '--local-user', 'bob@partner.example', '--digest-algo', 'SHA256', '--detach-sign'], entity);
    const signedMsg = (body: Buffer) =>
      Buffer.concat([
        Buffer.from('From: bob@partner.example\r\nTo: alice@example.com\r\nMIME-Version: 1.0\r\nContent-Type: multipart/signed; micalg=pgp-sha256;\r\n protocol="application/pgp-signature"; boundary="s1"\r\n\r\n--s1\r\n'),
        body,
        Buffer.from('\r\n--s1\r\nContent-Type: application/pgp-signature\r\n\r\n'),
        Buffer.from(sig.toString().replace(/\r?\n/g, '\r\n')),
        Buffer.from('--s1--\r\n'),
      ]);
    const good = await verifyPgpMime(signedMsg(entity), { verificationKeys: [bobPublic] });
    assert.equal(good[0]?.valid, true, `gpg's signature verifies: ${good[0]?.error}`);
    const bad = await verifyPgpMime(signedMsg(Buffer.from(entity.toString().replace('gpg', 'gpG'))), { verificationKeys: [bobPublic] });
    assert.equal(bad[0]?.valid, false, 'a changed body fails');
  });
});

describe('keys', () => {
  test('an armoured or a binary export reads the same; the info names address, expiry and use', async () => {
    const binary = gpg.ok(['--export', 'bob@partner.example']);
    const fromBinary = await readPgpKeys(binary);
    const armoredInfo = await pgpKeyInfo(bobPublic);
    const binaryInfo = await pgpKeyInfo(fromBinary[0]!);
    assert.equal(binaryInfo.fingerprint, armoredInfo.fingerprint, 'same key');
    assert.deepEqual(armoredInfo.addresses, ['bob@partner.example'], 'address from the user ID');
    assert.equal(armoredInfo.canEncrypt, true, 'can encrypt');
    assert.equal(armoredInfo.isPrivate, false, 'public');
    assert.equal(armoredInfo.expiresAt, null, 'never expires');
  });

  test('a passphrase-protected private key needs its passphrase', async () => {
    gpg.ok(['--passphrase', 'secret words', '--quick-generate-key', 'Carol <carol@example.com>', 'future-default', 'default', 'never']);
    const armored = gpg.ok(['--passphrase', 'secret words', '--armor', '--export-secret-keys', 'carol@example.com']).toString();
    await assert.rejects(readPgpKeys(armored), /protected by a passphrase/);
    await assert.rejects(readPgpKeys(armored, 'wrong'), /cannot unlock/);
    const [carol] = await readPgpKeys(armored, 'secret words');
    assert.ok(carol!.isPrivate() && (carol as PgpPrivateKey).isDecrypted(), 'unlocked');
    assert.ok(await readPgpKey(carol!.armor()), 're-readable without passphrase');
  });

  test('garbage is refused with a clear error', async () => {
    await assert.rejects(readPgpKeys(Buffer.from('not a key at all')), /not an OpenPGP key/);
  });
});
