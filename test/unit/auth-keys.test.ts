// DKIM keys in the database: sealed with the master key, one active key per domain and
// algorithm, rotation with an overlap (and with a pending key published first), the
// gateway's key cache following config_serial; and the new auth/ARC settings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Db } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { MasterKey, ensureMasterKey, loadMasterKey } from '../../src/keys/master-key.ts';
import { configSerial, loadSettings, setSetting, validateSetting } from '../../src/config/settings.ts';
import {
  addDkimKey,
  displayStatus,
  listDkimKeys,
  openDkimKey,
  parseDkimAlgorithm,
  removeExpiredDkimKeys,
  rotateDkimKeys,
} from '../../src/db/repos/dkim-keys.ts';
import { generateDkimKey, type DkimAlgorithm } from '../../src/pipeline/sign/dkim-keys.ts';
import { SigningKeyStore } from '../../src/pipeline/sign/key-store.ts';
import { openTestDatabase } from '../helpers/temp-db.ts';

// 1024-bit RSA keeps key generation fast here; the CLI default is 2048.
const gen = (alg: DkimAlgorithm) => generateDkimKey(alg, 1024);

async function withDb(fn: (db: Db, mk: MasterKey, dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hermes-keys-'));
  const db = await openTestDatabase(dir);
  try {
    await migrate(db);
    ensureMasterKey(join(dir, 'master.key'));
    await fn(db, loadMasterKey(join(dir, 'master.key')), dir);
  } finally {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a stored key is sealed with the master key, bound to its domain and selector, and opens again', async () => {
  await withDb(async (db, mk) => {
    const serial0 = await configSerial(db);
    const key = await gen('rsa-sha256');
    const row = await addDkimKey(db, mk, { domain: 'Example.COM', selector: 'Sel1', key });
    assert.equal(row.domain, 'example.com');
    assert.equal(row.selector, 'sel1');
    assert.equal(row.status, 'active');
    assert.ok(!row.private_key.includes('PRIVATE KEY') && !row.private_key.includes(key.privateKeyPem.slice(40, 80)));
    assert.equal(openDkimKey(mk, row).privateKeyPem, key.privateKeyPem);
    assert.equal(row.dns_txt, key.dnsTxt);
    assert.ok((await configSerial(db)) > serial0, 'config serial bumped');
    // Moved to another row, the sealed key does not open; another master key neither.
    assert.throws(() => openDkimKey(mk, { ...row, selector: 'other' }), /cannot be decrypted/);
    assert.throws(() => openDkimKey(new MasterKey(randomBytes(32)), row), /cannot be decrypted/);
  });
});

test('one active key per domain and algorithm: RSA and Ed25519 side by side, a second RSA is refused', async () => {
  await withDb(async (db, mk) => {
    await addDkimKey(db, mk, { domain: 'example.com', key: await gen('rsa-sha256'), now: Date.UTC(2025, 5, 3) });
    const ed = await addDkimKey(db, mk, { domain: 'example.com', key: await gen('ed25519-sha256'), now: Date.UTC(2025, 5, 3) });
    assert.match(ed.selector, /^ed\d{8}$/);
    await assert.rejects(addDkimKey(db, mk, { domain: 'example.com', key: await gen('rsa-sha256') }), /already has an active rsa-sha256 key .* dkim rotate example\.com/);
    await assert.rejects(addDkimKey(db, mk, { domain: 'example.com', selector: ed.selector, key: await gen('rsa-sha256'), status: 'pending' }), /already has a key with selector/);
    await assert.rejects(addDkimKey(db, mk, { domain: 'example.com', selector: 'bad selector', key: await gen('ed25519-sha256') }), /invalid DKIM selector/);
    assert.equal(parseDkimAlgorithm('ED25519'), 'ed25519-sha256');
    assert.throws(() => parseDkimAlgorithm('dsa'), /use rsa or ed25519/);
  });
});

test('rotate: new key signs, the old one retires with an overlap; --prepare publishes first; expired keys can be removed', async () => {
  await withDb(async (db, mk) => {
    const t0 = Date.UTC(2025, 0, 1);
    await addDkimKey(db, mk, { domain: 'example.com', selector: 'a', key: await gen('rsa-sha256'), now: t0 });
    await addDkimKey(db, mk, { domain: 'example.com', selector: 'e', key: await gen('ed25519-sha256'), now: t0 });

    // Only the RSA key, immediately.
    const t1 = t0 + 86_400_000;
    const r1 = await rotateDkimKeys(db, mk, 'example.com', { algorithm: 'rsa-sha256', selector: 'b', overlapMs: 3 * 86_400_000, generate: gen, now: t1 });
    assert.deepEqual(r1.added.map((r) => [r.selector, r.status]), [['b', 'active']]);
    assert.deepEqual(r1.retired.map((r) => [r.selector, r.status, r.retired_at, r.remove_after]), [['a', 'retiring', t1, t1 + 3 * 86_400_000]]);

    // Two-step: pending keys for both algorithms, then activation.
    const t2 = t1 + 86_400_000;
    const prep = await rotateDkimKeys(db, mk, 'example.com', { prepare: true, generate: gen, now: t2 });
    assert.deepEqual(prep.added.map((r) => r.status), ['pending', 'pending']);
    assert.equal(prep.retired.length, 0);
    await assert.rejects(rotateDkimKeys(db, mk, 'example.com', { prepare: true, generate: gen, now: t2 }), /already has a pending/);
    const signing = (await listDkimKeys(db, 'example.com')).filter((r) => r.status === 'active').map((r) => r.selector).sort();
    assert.deepEqual(signing, ['b', 'e'], 'pending keys do not sign yet');
    const t3 = t2 + 86_400_000;
    const r2 = await rotateDkimKeys(db, mk, 'example.com', { generate: () => assert.fail('must use the pending keys'), now: t3 });
    assert.deepEqual(r2.added.map((r) => r.id).sort(), prep.added.map((r) => r.id).sort());
    assert.deepEqual(r2.retired.map((r) => r.selector).sort(), ['b', 'e']);

    const rows = await listDkimKeys(db, 'example.com');
    const a = rows.find((r) => r.selector === 'a')!;
    assert.equal(displayStatus(a, t1 + 3 * 86_400_000 - 1), 'retiring');
    assert.equal(displayStatus(a, t1 + 3 * 86_400_000), 'expired');
    const gone = await removeExpiredDkimKeys(db, 'example.com', t1 + 3 * 86_400_000);
    assert.deepEqual(gone.map((r) => r.selector), ['a']);
    assert.equal((await listDkimKeys(db, 'example.com')).length, 4, 'b and e are still inside their overlap');

    await assert.rejects(rotateDkimKeys(db, mk, 'nokeys.example', { generate: gen }), /no DKIM key to rotate/);
    await assert.rejects(rotateDkimKeys(db, mk, 'example.com', { selector: 'x', generate: gen }), /name one with --algorithm/);
  });
});

test('the signing key cache: From domain first, then its parents, reloaded when config_serial moves', async () => {
  await withDb(async (db, mk, dir) => {
    let serial = 1;
    const store = new SigningKeyStore({ db, masterKeyFile: join(dir, 'master.key'), serial: () => serial });
    assert.equal(await store.signingKeys(['example.com']), null);
    const rsa = await addDkimKey(db, mk, { domain: 'example.com', selector: 'r', key: await gen('rsa-sha256') });
    assert.equal(await store.signingKeys(['example.com']), null, 'cached until the serial moves');
    serial = 2;
    const got = await store.signingKeys(['news.example.com', 'example.com', 'other.test']);
    assert.equal(got?.domain, 'example.com');
    assert.deepEqual(got?.keys.map((k) => k.selector), ['r']);
    assert.equal(got?.keys[0]!.privateKeyPem, openDkimKey(mk, rsa).privateKeyPem);

    await addDkimKey(db, mk, { domain: 'example.com', selector: 'e', key: await gen('ed25519-sha256') });
    serial = 3;
    assert.deepEqual((await store.signingKeys(['example.com']))?.keys.map((k) => k.algorithm), ['rsa-sha256', 'ed25519-sha256']);
    assert.equal((await store.arcKey('example.com', 'r')).selector, 'r');
    await assert.rejects(store.arcKey('example.com', 'e'), /ARC sealing needs an RSA key/);
    await assert.rejects(store.arcKey('example.com', 'zz'), /no DKIM key zz\._domainkey\.example\.com/);

    const broken = new SigningKeyStore({ db, masterKeyFile: join(dir, 'missing.key'), serial: () => serial });
    await assert.rejects(broken.signingKeys(['example.com']), /cannot load the master key/);
  });
});

test('auth and ARC settings: typed defaults, lists stay lists, bad values get precise errors', async () => {
  await withDb(async (db) => {
    const s = await loadSettings(db);
    assert.equal(s['auth.verify'], true);
    assert.equal(s['auth.onTempError'], 'tempfail');
    assert.deepEqual(s['auth.bypass.dmarc'], { domains: [], networks: [] });
    await setSetting(db, 'auth.trustedArcSealers', ['lists.example.org']);
    await setSetting(db, 'auth.bypass.spf', { networks: ['192.0.2.0/24'] });
    const t = await loadSettings(db);
    assert.deepEqual(t['auth.trustedArcSealers'], ['lists.example.org']);
    assert.ok(Array.isArray(t['auth.trustedArcSealers']));
    assert.deepEqual(t['auth.bypass.spf'], { domains: [], networks: ['192.0.2.0/24'] });

    assert.throws(() => validateSetting('auth.verify', 'yes'), /must be true or false/);
    assert.throws(() => validateSetting('auth.onTempError', 'ignore'), /must be one of "tempfail", "neutral"/);
    assert.throws(() => validateSetting('auth.bypass.dkim', { networks: ['10.0.0.0/33'] }), /invalid prefix length/);
    assert.throws(() => validateSetting('auth.bypass.dkim', { hosts: [] }), /auth\.bypass\.dkim\.hosts is not a known field/);
    assert.throws(() => validateSetting('auth.trustedArcSealers', 'lists.example.org'), /must be a list of domain names/);
    assert.throws(() => validateSetting('arc.domain', 'not a domain'), /must be a domain name or null/);
    assert.throws(() => validateSetting('auth.dnsTimeoutMs', 10), /between 100 and 60000/);
  });
});
