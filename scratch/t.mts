import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { withDb } from '../test/helpers/temp-db.ts';
import { MasterKey } from '../src/keys/master-key.ts';
import { ensureInternalCa, issueCertificate } from '../src/pipeline/encrypt/smime-ca.ts';
import { newRsaKeyPair } from '../src/pipeline/encrypt/key-pool.ts';
import { parseCertificates } from '../src/pipeline/encrypt/smime-cert.ts';
import { envelope, openEnvelope } from '../src/pipeline/encrypt/smime-envelope.ts';
import { signDetached, verifySignature } from '../src/pipeline/encrypt/smime-sign.ts';
import { envelopedEntity, signedEntity } from '../src/pipeline/encrypt/smime-mime.ts';
import { openPrivateMaterial } from '../src/db/repos/encryption-keys.ts';
await withDb(async (db) => {
  const mk = new MasterKey(randomBytes(32));
  const ca = await ensureInternalCa(db, mk, 'gw.test');
  const row = await issueCertificate(db, mk, ca, 'alice@ours.test', await newRsaKeyPair());
  const certs = parseCertificates(row.public_material);
  const pem = openPrivateMaterial(mk, row)!;
  writeFileSync('/tmp/es/ca.pem', ca.cert.toString('pem'));
  writeFileSync('/tmp/es/alice.pem', certs[0]!.toString('pem'));
  writeFileSync('/tmp/es/alice.key', pem);
  const entity = Buffer.from('Content-Type: text/plain; charset=us-ascii\r\n\r\nHello secret\r\n');
  for (const t of ['rsa-oaep', 'rsa-pkcs1'] as const) {
    const der = envelope(entity, [{ cert: certs[0]!, transport: t }]);
    writeFileSync(`/tmp/es/env-${t}.der`, der);
    const r = spawnSync('openssl', ['cms', '-decrypt', '-inform', 'DER', '-in', `/tmp/es/env-${t}.der`, '-recip', '/tmp/es/alice.pem', '-inkey', '/tmp/es/alice.key']);
    console.log(t, r.status, JSON.stringify(r.stdout.toString()), r.stderr.toString().slice(0, 300));
    console.log('self-open', openEnvelope(der, [{ cert: certs[0]!, privateKeyPem: pem }])?.content.toString());
  }
  const sig = await signDetached(entity, { cert: certs[0]!, chain: [ca.cert], privateKeyPem: pem });
  const msg = Buffer.concat([Buffer.from('From: alice@ours.test\r\nTo: bob@far.test\r\nSubject: s\r\nMIME-Version: 1.0\r\n'), signedEntity(entity, sig)]);
  writeFileSync('/tmp/es/signed.eml', msg);
  const v = spawnSync('openssl', ['smime', '-verify', '-in', '/tmp/es/signed.eml', '-CAfile', '/tmp/es/ca.pem']);
  console.log('verify', v.status, JSON.stringify(v.stdout.toString()), v.stderr.toString().slice(0, 300));
  console.log('self-verify', (await verifySignature(sig, entity)).reason);
  // openssl-made
  writeFileSync('/tmp/es/plain.txt', 'Content-Type: text/plain\r\n\r\nfrom openssl\r\n');
  spawnSync('openssl', ['smime', '-encrypt', '-aes256', '-in', '/tmp/es/plain.txt', '-out', '/tmp/es/oenc.eml', '/tmp/es/alice.pem']);
  spawnSync('openssl', ['smime', '-sign', '-in', '/tmp/es/plain.txt', '-out', '/tmp/es/osig.eml', '-signer', '/tmp/es/alice.pem', '-inkey', '/tmp/es/alice.key', '-certfile', '/tmp/es/ca.pem']);
  console.log('ok');
});
