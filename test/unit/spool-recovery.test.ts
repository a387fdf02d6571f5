// Spool recovery at start: leftovers of crashes are cleaned up, quietly, and nothing
// acknowledged is lost (issue 10).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { withDb } from '../helpers/temp-db.ts';
import { Spool, type SpoolEnvelope } from '../../src/spool/spool-file.ts';
import { IndexWriter } from '../../src/trace/index-writer.ts';
import { indexRows } from '../../src/spool/acceptor.ts';
import { recoverSpool } from '../../src/spool/recovery.ts';
import { newQueueId } from '../../src/spool/queue-id.ts';
import type { Db } from '../../src/db/database.ts';

function capturingLog() {
  const lines: Array<{ level: number; msg: string }> = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as { level: number; msg: string }) });
  return { log, lines };
}

function envelope(o: Partial<SpoolEnvelope> = {}): SpoolEnvelope {
  return {
    id: newQueueId(),
    receivedAt: Date.now(),
    node: 0,
    direction: 'inbound',
    mailFrom: 'a@outside.test',
    recipients: [{ address: 'b@example.com', route: 'relay:127.0.0.1:25', requireTls: false }],
    clientIp: '127.0.0.1',
    clientHelo: 'client.test',
    clientPtr: null,
    tls: null,
    messageId: null,
    subject: 'x',
    parentId: null,
    ...o,
  };
}

async function withSpool(fn: (db: Db, spool: Spool, index: IndexWriter, cap: ReturnType<typeof capturingLog>) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hermes-spool-'));
  try {
    await withDb(async (db) => {
      const cap = capturingLog();
      const spool = new Spool(dir, 0);
      await spool.init();
      const index = new IndexWriter(db, cap.log);
      await fn(db, spool, index, cap);
      await index.flush();
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('recovery: empty and header-less files (never acknowledged) are removed at info level, every start quiet afterwards', async () => {
  await withSpool(async (db, spool, index, cap) => {
    const empty = spool.fileFor(newQueueId());
    const partial = spool.fileFor(newQueueId());
    writeFileSync(spool.path(empty), '');
    writeFileSync(spool.path(partial), 'HSPOOL1 4');
    const report = await recoverSpool(db, spool, index, cap.log, [0]);
    assert.equal(report.removed, 2);
    assert.equal(report.damaged, 0);
    assert.ok(!existsSync(spool.path(empty)) && !existsSync(spool.path(partial)));
    assert.deepEqual(cap.lines.filter((l) => l.level >= 50), [], 'nothing at error level');
    const again = await recoverSpool(db, spool, index, cap.log, [0]);
    assert.equal(again.files, 0);
  });
});

test('recovery: a complete file whose recipients were all delivered gets its message marked done and the file removed', async () => {
  await withSpool(async (db, spool, index, cap) => {
    const env = envelope();
    const { file } = await spool.write(env, [Buffer.from('Subject: x\r\n\r\nbody\r\n')]);
    await index.insertMessage(...indexRows(env, file, 20));
    // The crash came after the delivery was recorded, before the message was marked done.
    await db.updateTable('recipients').set({ status: 'delivered' }).where('message_id', '=', env.id).execute();
    const report = await recoverSpool(db, spool, index, cap.log, [0]);
    assert.equal(report.finished, 1);
    const row = await db.selectFrom('messages').select('state').where('id', '=', env.id).executeTakeFirstOrThrow();
    assert.equal(row.state, 'done');
    assert.ok(!existsSync(spool.path(file)));
  });
});

test('recovery: a DSN file whose decision was never committed is removed (its message decides again); a committed one is kept', async () => {
  await withSpool(async (db, spool, index, cap) => {
    const parent = envelope();
    const { file: parentFile } = await spool.write(parent, [Buffer.from('Subject: x\r\n\r\nbody\r\n')]);
    await index.insertMessage(...indexRows(parent, parentFile, 20));
    // Crash between the DSN's fsync and the commit of it with the bounced status.
    const dsn = envelope({ direction: 'dsn', mailFrom: '', parentId: parent.id });
    const { file: dsnFile } = await spool.write(dsn, [Buffer.from('Subject: Undelivered\r\n\r\nreport\r\n')]);
    const report = await recoverSpool(db, spool, index, cap.log, [0]);
    assert.equal(report.removed, 1);
    assert.equal(report.reindexed, 0);
    assert.ok(!existsSync(spool.path(dsnFile)), 'uncommitted DSN removed');
    assert.ok(existsSync(spool.path(parentFile)), 'its message stays queued');

    // The parent already finished (an older DSN whose index entry is missing): keep it.
    await db.updateTable('messages').set({ state: 'done' }).where('id', '=', parent.id).execute();
    const dsn2 = envelope({ direction: 'dsn', mailFrom: '', parentId: parent.id });
    const { file: dsn2File } = await spool.write(dsn2, [Buffer.from('Subject: Undelivered\r\n\r\nreport\r\n')]);
    const report2 = await recoverSpool(db, spool, index, cap.log, [0]);
    assert.equal(report2.reindexed, 1);
    assert.ok(existsSync(spool.path(dsn2File)));
  });
});
