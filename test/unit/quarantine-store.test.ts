// The quarantine store: a held message is sealed on disk (compressed and encrypted: its
// text is not in the file), indexed with its verdict; release puts the exact held bytes
// in the delivery queue (spool file + index rows a running gateway picks up); delete and
// the retention purge remove the file; release and delete are in the original message's
// trace (the hold is traced by its caller, the SMTP session).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Db } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { ensureMasterKey } from '../../src/keys/master-key.ts';
import { upsertRelayDomain } from '../../src/db/repos/relay-policy.ts';
import { openQuarantine, type OpenedQuarantine } from '../../src/quarantine/open-quarantine.ts';
import { parseSpoolFile } from '../../src/spool/spool-file.ts';
import { newQueueId } from '../../src/spool/queue-id.ts';
import type { QuarantineHold } from '../../src/quarantine/types.ts';
import pino from 'pino';
import { Acceptor, type AcceptedMessage } from '../../src/spool/acceptor.ts';
import { Spool } from '../../src/spool/spool-file.ts';
import { IndexWriter } from '../../src/trace/index-writer.ts';
import { openTestDatabase } from '../helpers/temp-db.ts';

interface Env {
  db: Db;
  dir: string;
  q: OpenedQuarantine;
}

async function withQuarantine(fn: (e: Env) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hermes-quar-'));
  const db = await openTestDatabase(dir);
  await migrate(db);
  ensureMasterKey(join(dir, 'master.key'));
  await upsertRelayDomain(db, { domain: 'example.test', nextHop: '127.0.0.1:2525' });
  const config = { storage: { database: join(dir, 'hermes.db'), spool: join(dir, 'spool'), data: join(dir, 'data'), archive: join(dir, 'archive') }, masterKeyFile: join(dir, 'master.key') };
  const q = openQuarantine({ db, config });
  try {
    await fn({ db, dir, q });
  } finally {
    await q.close();
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

const SECRET = 'The treasure is buried under the old oak tree near the river';
const message = (subject: string) =>
  Buffer.from(
    `From: Sender <sender@remote.test>\r\nTo: alice@example.test, bob@example.test\r\nSubject: ${subject}\r\nMessage-ID: <m1@remote.test>\r\n\r\n` +
      `${SECRET}.\r\n`.repeat(20),
  );

function hold(over: Partial<QuarantineHold> = {}): QuarantineHold {
  return {
    messageId: newQueueId(),
    receivedAt: new Date(),
    mailFrom: 'sender@remote.test',
    recipients: ['alice@example.test', 'Bob@example.test'],
    category: 'spam',
    score: 7.3,
    symbols: [{ name: 'BAYES_99', score: 3.5, description: 'Bayes spam probability is 99 to 100%' }, { name: 'HTML_ONLY', score: 3.8 }],
    reason: 'spam score 7.3 >= 5 (policy default)',
    message: [Buffer.from('X-Spam-Score: 7.3\r\n'), message('Cheap pills')],
    ...over,
  };
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => join(d.parentPath, d.name));
}

test('a held message is indexed with its verdict and sealed on disk: neither its text nor its sender is readable there', async () => {
  await withQuarantine(async ({ db, dir, q }) => {
    const h = hold();
    const id = await q.store.hold(h);
    const entry = await q.service.get(id);
    assert.equal(entry.state, 'held');
    assert.equal(entry.category, 'spam');
    assert.equal(entry.score, 7.3);
    assert.equal(entry.subject, 'Cheap pills');
    assert.equal(entry.header_from, 'Sender <sender@remote.test>');
    assert.equal(entry.reason, h.reason);
    assert.deepEqual(JSON.parse(entry.symbols), h.symbols);
    assert.deepEqual(entry.recipients.map((r) => [r.address, r.state]).sort(), [['alice@example.test', 'held'], ['bob@example.test', 'held']]);

    const files = filesUnder(join(dir, 'data', 'quarantine'));
    assert.equal(files.length, 1);
    const onDisk = readFileSync(files[0]!);
    for (const needle of ['treasure', 'sender@remote.test', 'Cheap pills', 'X-Spam-Score']) {
      assert.ok(!onDisk.includes(needle), `"${needle}" must not be readable on disk`);
    }
    // Compressed: twenty repeated lines take far less than their plain size.
    assert.ok(onDisk.length < Buffer.concat(h.message).length / 2, `sealed file ${onDisk.length} bytes`);
    // ... and the exact bytes come back.
    assert.deepEqual(await q.service.raw(id), Buffer.concat(h.message));

  });
});

test('release queues exactly the held bytes for the held recipients, deferred-due-now for a running gateway, once', async () => {
  await withQuarantine(async ({ db, dir, q }) => {
    const h = hold();
    const id = await q.store.hold(h);
    const r = await q.service.release(id, { by: 'test', recipients: ['ALICE@example.test'] });
    assert.deepEqual(r.recipients, ['alice@example.test']);

    const msg = await db.selectFrom('messages').selectAll().where('id', '=', r.queueId).executeTakeFirstOrThrow();
    assert.equal(msg.state, 'queued');
    assert.equal(msg.mail_from, 'sender@remote.test');
    assert.equal(msg.subject, 'Cheap pills');
    const rcpts = await db.selectFrom('recipients').selectAll().where('message_id', '=', r.queueId).execute();
    assert.deepEqual(rcpts.map((x) => [x.address, x.status, x.route]), [['alice@example.test', 'deferred', 'host:127.0.0.1:2525']]);
    assert.ok(rcpts[0]!.next_attempt_at <= Date.now());
    const spooled = parseSpoolFile(readFileSync(join(dir, 'spool', msg.spool_file)), msg.spool_file);
    assert.deepEqual(spooled.message, Buffer.concat(h.message), 'the spool holds exactly the held bytes');

    let entry = await q.service.get(id);
    assert.equal(entry.state, 'held', 'bob is still held');
    assert.deepEqual((await q.service.list({ recipient: 'alice@example.test' })).map((e) => e.id), [], 'no longer held for alice');
    assert.deepEqual((await q.service.list({ recipient: 'alice@example.test', state: 'released' })).map((e) => e.id), [id]);
    assert.deepEqual((await q.service.list({ recipient: 'bob@example.test' })).map((e) => e.id), [id]);
    assert.deepEqual(entry.recipients.map((x) => [x.address, x.state, x.released_as]).sort(), [['alice@example.test', 'released', r.queueId], ['bob@example.test', 'held', null]]);
    await assert.rejects(q.service.release(id, { by: 'test', recipients: ['alice@example.test'] }), /no longer held/);
    await assert.rejects(q.service.release(id, { by: 'test', recipients: ['carol@example.test'] }), /not a recipient/);

    const r2 = await q.service.release(id, { by: 'test' });
    assert.deepEqual(r2.recipients, ['bob@example.test']);
    entry = await q.service.get(id);
    assert.equal(entry.state, 'released');
    await assert.rejects(q.service.release(id, { by: 'test' }), /no recipient left/);
    assert.deepEqual((await q.service.list()).map((e) => e.id), [], 'released entries leave the default (held) list');
    assert.deepEqual((await q.service.list({ state: 'all' })).map((e) => e.id), [id]);

    const types = (await db.selectFrom('events').select('type').where('message_id', '=', h.messageId).orderBy('id').execute()).map((e) => e.type);
    assert.deepEqual(types, ['quarantine-released', 'quarantine-released']);
    const created = await db.selectFrom('events').selectAll().where('message_id', '=', r.queueId).where('type', '=', 'released').executeTakeFirstOrThrow();
    assert.equal(JSON.parse(created.detail!).quarantineId, id);
  });
});

test('list filters by recipient, category and time; delete removes the file and keeps the trace', async () => {
  await withQuarantine(async ({ dir, q, db }) => {
    const a = await q.store.hold(hold({ recipients: ['alice@example.test'], category: 'malware', score: null }));
    const b = await q.store.hold(hold({ recipients: ['bob@example.test'] }));
    assert.deepEqual((await q.service.list({ recipient: 'Alice@example.test' })).map((e) => e.id), [a]);
    assert.deepEqual((await q.service.list({ category: 'spam' })).map((e) => e.id), [b]);
    assert.deepEqual((await q.service.list({ since: Date.now() + 60_000 })).map((e) => e.id), []);
    assert.equal((await q.service.list()).length, 2);

    await q.service.delete(a, { by: 'test' });
    assert.equal((await q.service.get(a)).state, 'deleted');
    assert.equal(filesUnder(join(dir, 'data', 'quarantine')).length, 1);
    await assert.rejects(q.service.release(a, { by: 'test' }), /deleted/);
    await assert.rejects(q.service.delete(a, { by: 'test' }), /already deleted/);
    const entry = await q.service.get(a);
    const ev = await db.selectFrom('events').select('type').where('message_id', '=', entry.message_id).orderBy('id').execute();
    assert.deepEqual(ev.map((e) => e.type), ['quarantine-deleted']);
  });
});

test('the retention purge removes entries (files and rows) held longer ago than the retention period, and only those', async () => {
  await withQuarantine(async ({ dir, q, db }) => {
    const old = await q.store.hold(hold());
    const fresh = await q.store.hold(hold());
    const now = Date.now();
    await db.updateTable('quarantine').set({ held_at: now - 31 * 86_400_000 }).where('id', '=', old).execute();
    assert.equal(await q.service.purge(30, now), 1);
    assert.deepEqual((await q.service.list({ state: 'all' })).map((e) => e.id), [fresh]);
    assert.equal(filesUnder(join(dir, 'data', 'quarantine')).length, 1);
    assert.equal(await q.service.purge(30, now), 0);
    // A shorter retention applies to what is already held.
    assert.equal(await q.service.purge(1, now + 2 * 86_400_000), 1);
    assert.equal(filesUnder(join(dir, 'data', 'quarantine')).length, 0);
  });
});

test('a file sealed for one entry does not open as another, and a hold without recipients is refused', async () => {
  await withQuarantine(async ({ db, q }) => {
    const a = await q.store.hold(hold());
    const b = await q.store.hold(hold());
    const fa = (await q.service.get(a)).file;
    await db.updateTable('quarantine').set({ file: fa }).where('id', '=', b).execute();
    await assert.rejects(q.service.raw(b), /cannot be opened/);
    await assert.rejects(q.store.hold(hold({ recipients: [] })), /at least one recipient/);
  });
});

test('a held file whose index row was lost (database not yet synced at a power cut) is indexed again from its sealed metadata', async () => {
  await withQuarantine(async ({ db, q }) => {
    const h = hold();
    const id = await q.store.hold(h);
    const before = await q.service.get(id);
    await db.deleteFrom('quarantine_recipients').execute();
    await db.deleteFrom('quarantine').execute();
    assert.equal(await q.service.reindexOrphans(60_000), 0, 'a young file may be a hold in progress: left alone');
    assert.equal(await q.service.reindexOrphans(0), 1);
    const after = await q.service.get(id);
    for (const k of ['message_id', 'received_at', 'held_at', 'mail_from', 'header_from', 'subject', 'category', 'score', 'symbols', 'reason', 'size', 'file', 'state'] as const) {
      assert.deepEqual(after[k], before[k], k);
    }
    assert.deepEqual(after.recipients.map((r) => r.address).sort(), ['alice@example.test', 'bob@example.test']);
    assert.deepEqual(await q.service.raw(id), Buffer.concat(h.message));
    assert.equal(await q.service.reindexOrphans(0), 0);
  });
});

test('inside the gateway a release goes through its Acceptor: handed to delivery at once with exactly the held bytes', async () => {
  await withQuarantine(async ({ db, dir }) => {
    const log = pino({ level: 'silent' });
    const spool = new Spool(join(dir, 'spool'), 1);
    await spool.init();
    const acceptor = new Acceptor(spool, new IndexWriter(db, log), log);
    const accepted: AcceptedMessage[] = [];
    acceptor.onAccepted((m) => accepted.push(m));
    const config = { storage: { database: '', spool: join(dir, 'spool'), data: join(dir, 'data'), archive: '' }, masterKeyFile: join(dir, 'master.key') };
    const inGateway = openQuarantine({ db, config, acceptor: { acceptor, node: 1 } });
    try {
      const h = hold();
      const id = await inGateway.store.hold(h);
      const r = await inGateway.service.release(id, { by: 'api:admin' });
      assert.equal(accepted.length, 1);
      assert.equal(accepted[0]!.envelope.id, r.queueId);
      assert.equal(accepted[0]!.envelope.node, 1);
      assert.deepEqual(accepted[0]!.envelope.recipients.map((x) => x.address).sort(), ['alice@example.test', 'bob@example.test']);
      assert.deepEqual(accepted[0]!.message, Buffer.concat(h.message));
      const rcpts = await db.selectFrom('recipients').select('status').where('message_id', '=', r.queueId).execute();
      assert.deepEqual(rcpts.map((x) => x.status), ['queued', 'queued']);
    } finally {
      await inGateway.close();
    }
  });
});
