// The key store: private halves sealed with the master key (and bound to their row),
// usable keys filtered by validity and revocation, expiry warnings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { withDb } from '../helpers/temp-db.ts';
import { MasterKey } from '../../src/keys/master-key.ts';
import { expiringKeys, openPrivateMaterial, revokeEncryptionKey, saveEncryptionKey, usableKeys } from '../../src/db/repos/encryption-keys.ts';

const DAY = 86_400_000;

test('a stored private key is sealed, opens with the master key, and is usable only while valid and not revoked', async () => {
  await withDb(async (db) => {
    const mk = new MasterKey(randomBytes(32));
    const now = Date.now();
    const row = await saveEncryptionKey(db, mk, { address: 'Alice@Ours.test', kind: 'smime', fingerprint: 'AB12', publicMaterial: 'CERT', privateMaterial: 'SECRET-PEM', notBefore: now - DAY, notAfter: now + 10 * DAY, source: 'internal-ca' });
    assert.equal(row.address, 'alice@ours.test');
    assert.ok(row.private_material && !row.private_material.includes('SECRET'), 'sealed at rest');
    assert.equal(openPrivateMaterial(mk, row), 'SECRET-PEM');
    assert.throws(() => openPrivateMaterial(mk, { ...row, fingerprint: 'other' }), /cannot be decrypted/);
    await saveEncryptionKey(db, null, { address: 'alice@ours.test', kind: 'smime', fingerprint: 'old1', publicMaterial: 'OLD', notAfter: now - DAY, source: 'imported' });
    assert.deepEqual((await usableKeys(db, 'alice@ours.test', 'smime', now)).map((r) => r.fingerprint), ['ab12']);
    assert.deepEqual((await expiringKeys(db, now + 30 * DAY, now)).map((r) => r.fingerprint), ['ab12']);
    await revokeEncryptionKey(db, 'smime', 'ab12', now);
    assert.equal((await usableKeys(db, 'alice@ours.test', 'smime', now)).length, 0);
  });
});
