import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, truncateSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureMasterKey, loadMasterKey } from '../../src/keys/master-key.ts';
import { Spool, TruncatedSpoolFile } from '../../src/spool/spool-file.ts';
import { newQueueId, isQueueId } from '../../src/spool/queue-id.ts';
import { migrate, schemaVersion, LATEST_SCHEMA_VERSION } from '../../src/db/migrate.ts';
import { MIGRATIONS } from '../../src/db/migrations/index.ts';
import { setSetting, loadSettings, configSerial } from '../../src/config/settings.ts';
import { initDataDir } from '../../src/cli/init-command.ts';
import { openTestDatabase } from '../helpers/temp-db.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'hermes-unit-'));

test('master key: created once with mode 0600, never overwritten; secrets round-trip and tampering is detected', () => {
  const dir = tmp();
  try {
    const file = join(dir, 'keys', 'master.key');
    assert.deepEqual(ensureMasterKey(file), { created: true });
    const first = readFileSync(file, 'utf8');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(ensureMasterKey(file), { created: false });
    assert.equal(readFileSync(file, 'utf8'), first);
    const key = loadMasterKey(file);
    const sealed = key.encryptString('smarthost-password', 'delivery.smarthost');
    assert.ok(!sealed.includes('smarthost-password'));
    assert.equal(key.decryptString(sealed, 'delivery.smarthost'), 'smarthost-password');
    assert.throws(() => key.decryptString(sealed, 'other-context'));
    const bytes = Buffer.from(sealed, 'base64');
    bytes[bytes.length - 1]! ^= 1;
    assert.throws(() => key.decrypt(bytes, 'delivery.smarthost'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('queue ids are unique, sortable by time and recognisable', () => {
  const a = newQueueId(1_700_000_000_000);
  const b = newQueueId(1_700_000_000_001);
  assert.ok(isQueueId(a) && isQueueId(b));
  assert.ok(a < b);
  assert.equal(new Set(Array.from({ length: 1000 }, () => newQueueId())).size, 1000);
});

test('spool file: envelope and bytes round-trip; a file cut off mid-write is recognised', async () => {
  const dir = tmp();
  try {
    const spool = new Spool(dir);
    await spool.init();
    const id = newQueueId();
    const env = { id, receivedAt: Date.now(), node: 0, direction: 'inbound' as const, mailFrom: 'a@b.test', recipients: [{ address: 'c@d.test', route: 'mx:d.test', requireTls: false }], clientIp: '127.0.0.1', clientHelo: 'h', clientPtr: null, tls: null, messageId: null, subject: 's', parentId: null };
    const msg = [Buffer.from('Subject: s\r\n\r\n'), Buffer.from('body\r\n')];
    const { file } = await spool.write(env, msg);
    const back = await spool.read(file);
    assert.equal(back.message.toString(), 'Subject: s\r\n\r\nbody\r\n');
    assert.deepEqual(back.envelope.recipients, env.recipients);
    const stream = await spool.openMessageStream(file);
    let streamed = '';
    for await (const c of stream) streamed += c.toString();
    assert.equal(streamed, 'Subject: s\r\n\r\nbody\r\n');
    assert.deepEqual(await spool.list(), [file]);
    truncateSync(spool.path(file), statSync(spool.path(file)).size - 3);
    await assert.rejects(spool.read(file), TruncatedSpoolFile);
    await assert.rejects(spool.write(env, msg), /EEXIST/, 'a spool file is never overwritten');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('migrations: applied once, recorded, safe to run again', async () => {
  const dir = tmp();
  const db = await openTestDatabase(dir);
  try {
    assert.deepEqual(await migrate(db), MIGRATIONS.map((m) => m.version));
    assert.deepEqual(await migrate(db), []);
    assert.equal(await schemaVersion(db), LATEST_SCHEMA_VERSION);
  } finally {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('settings: validated on write, merged with defaults, each write bumps the config serial', async () => {
  const dir = tmp();
  const db = await openTestDatabase(dir);
  try {
    await migrate(db);
    const s0 = await configSerial(db);
    await setSetting(db, 'delivery.retry', { minimalBackoffSec: 10 });
    const s = await loadSettings(db);
    assert.equal(s['delivery.retry'].minimalBackoffSec, 10);
    assert.equal(s['delivery.retry'].queueLifetimeSec, 5 * 86400, 'other fields keep their defaults');
    assert.equal(await configSerial(db), s0 + 1);
    await assert.rejects(setSetting(db, 'no.such', 1), /unknown setting/);
    await assert.rejects(setSetting(db, 'smtp.maxRecipients', 'many'), /number/);
    await assert.rejects(setSetting(db, 'delivery.retry', { nonsense: 1 }), /not a known field/);
    await assert.rejects(setSetting(db, 'delivery.smarthost', 'bad host name:x'), /host\[:port\]/);
  } finally {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('init is idempotent: keys and certificate are kept, flags update the bootstrap file', async () => {
  const dir = tmp();
  try {
    const out: string[] = [];
    await initDataDir({ dataDir: dir, hostname: 'mx.one.test', smtpPort: '2525' }, (s) => out.push(s));
    const key = readFileSync(join(dir, 'keys/master.key'), 'utf8');
    const cert = readFileSync(join(dir, 'tls/cert.pem'), 'utf8');
    assert.match(out.join('\n'), /master key .*created/);
    writeFileSync(join(dir, 'marker'), '');
    await initDataDir({ dataDir: dir, smtpPort: '2526' }, (s) => out.push(s));
    assert.equal(readFileSync(join(dir, 'keys/master.key'), 'utf8'), key);
    assert.equal(readFileSync(join(dir, 'tls/cert.pem'), 'utf8'), cert);
    const cfg = JSON.parse(readFileSync(join(dir, 'hermes.json'), 'utf8'));
    assert.equal(cfg.smtp.mx.port, 2526);
    assert.equal(cfg.hostname, 'mx.one.test');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
