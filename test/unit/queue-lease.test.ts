// The shared queue's leases (issue 13): two nodes claiming at once take different
// recipients, a lease that ran out (its node died) is taken over, renewals keep a
// delivering node's mail its own, and the database spool keeps the bytes every node
// reads, committed with the index rows. Runs on SQLite and, in the PostgreSQL pass, on
// PostgreSQL (FOR UPDATE SKIP LOCKED).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { withDb } from '../helpers/temp-db.ts';
import type { Db } from '../../src/db/database.ts';
import { claimDueRecipients, releaseLeases, releaseLeasesOf, renewLeases } from '../../src/db/repos/queue-lease.ts';
import { indexRows } from '../../src/spool/acceptor.ts';
import { DbSpool } from '../../src/spool/db-spool.ts';
import { IndexWriter } from '../../src/trace/index-writer.ts';
import { newQueueId } from '../../src/spool/queue-id.ts';
import type { SpoolEnvelope } from '../../src/spool/spool-file.ts';
import { MESSAGE_CHUNK_BYTES } from '../../src/db/repos/message-bytes.ts';

const log = pino({ level: 'silent' });

function envelope(recipients = 1): SpoolEnvelope {
  return {
    id: newQueueId(),
    receivedAt: Date.now() - 1000,
    node: 0,
    direction: 'inbound',
    mailFrom: 'a@outside.test',
    recipients: Array.from({ length: recipients }, (_, i) => ({ address: `r${i}@example.com`, route: 'relay:127.0.0.1:25', requireTls: false })),
    clientIp: '127.0.0.1',
    clientHelo: 'client.test',
    clientPtr: null,
    tls: null,
    messageId: null,
    subject: 'x',
    parentId: null,
  };
}

async function queue(db: Db, n: number, lease: { owner: string; until: number } | null = null): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const env = envelope(2);
    const [m, r, e] = indexRows(env, `0/x/${env.id}`, 10, [], lease);
    await db.insertInto('messages').values(m).execute();
    await db.insertInto('recipients').values(r).execute();
    await db.insertInto('events').values(e).execute();
    ids.push(env.id);
  }
  return ids;
}

const claim = (db: Db, owner: string, now: number, leaseMs: number, limit = 1000) =>
  db.transaction().execute((trx) => claimDueRecipients(trx, owner, now, now + leaseMs, limit));

test('two nodes claiming at once take different recipients, and together all of them', () =>
  withDb(async (db) => {
    await queue(db, 30);
    const now = Date.now();
    const [a, b] = await Promise.all([claim(db, 'node-a/0', now, 60_000, 35), claim(db, 'node-b/0', now, 60_000, 35)]);
    const keys = (rows: typeof a) => rows.map((r) => `${r.message_id}:${r.idx}`);
    const overlap = keys(a).filter((k) => keys(b).includes(k));
    assert.deepEqual(overlap, [], 'no recipient is leased to both nodes');
    const c = await claim(db, 'node-c/0', now, 60_000);
    assert.equal(a.length + b.length + c.length, 60, 'every recipient was claimed exactly once');
    assert.equal((await claim(db, 'node-d/0', now, 60_000)).length, 0, 'nothing is left while the leases run');
  }));

test("a dead node's leases are taken over once they run out; renewing keeps them", () =>
  withDb(async (db) => {
    const now = Date.now();
    await queue(db, 2, { owner: 'dead/0', until: now + 5000 });
    const alive = await queue(db, 1, { owner: 'alive/0', until: now + 5000 });
    assert.equal((await claim(db, 'other/0', now, 60_000)).length, 0, 'leased mail is not taken while its lease runs');
    assert.equal(await renewLeases(db, 'alive/0', now + 60_000, alive), 2, 'the living node renews its two recipients');
    const later = now + 10_000;
    const taken = await claim(db, 'other/0', later, 60_000);
    assert.equal(taken.length, 4, "the dead node's four recipients are taken over, the renewed ones are not");
    assert.equal(await releaseLeases(db, 'other/0'), 4, 'a stopping node lets go of what it holds');
    assert.equal((await claim(db, 'third/0', later, 60_000)).length, 4, 'released mail is free at once');
  }));

test('renewal keeps only the mail in hand; a lease on anything else runs out, or is let go of, and the mail is claimed again', () =>
  withDb(async (db) => {
    const now = Date.now();
    const [inHand, lost, held] = await queue(db, 3, { owner: 'node/0', until: now + 5000 });
    assert.equal(await renewLeases(db, 'node/0', now + 60_000, [inHand!]), 2, 'only the message in hand is renewed');
    const later = now + 10_000;
    const retaken = await claim(db, 'node/0', later, 60_000);
    assert.deepEqual([...new Set(retaken.map((r) => r.message_id))].sort(), [lost!, held!].sort(), 'the two not renewed are claimed again once their leases ran out');
    // A recipient whose deferral could not be written keeps its lease: the scheduler drops
    // it when its hold ends, and the claim takes it at once.
    assert.equal(await releaseLeasesOf(db, 'node/0', [{ messageId: held!, idx: 1 }]), 1, 'exactly the named recipient is let go of');
    assert.equal(await releaseLeasesOf(db, 'someone-else/0', [{ messageId: held!, idx: 0 }]), 0, "another node's lease is not touched");
    const again = await claim(db, 'node/0', later, 60_000);
    assert.deepEqual(again.map((r) => `${r.message_id}:${r.idx}`), [`${held}:1`], 'the released recipient is claimable while its lease would still run');
  }));

test('the database spool: bytes commit with the index rows, any node reads them, removal deletes them', () =>
  withDb(async (db) => {
    const index = new IndexWriter(db, log);
    const spool = new DbSpool(db, 0);
    const env = envelope(1);
    const big = Buffer.alloc(MESSAGE_CHUNK_BYTES * 2 + 17, 'x');
    const message = [Buffer.from('Subject: s\r\n\r\n'), big];
    const { file, commit } = await spool.write(env, message);
    assert.ok(commit, 'a database spool write is committed with the index rows');
    assert.equal((await db.selectFrom('message_bytes').select('seq').execute()).length, 0, 'nothing is stored before the commit');
    await Promise.all([index.insertMessage(...indexRows(env, file, 14 + big.length)), index.op(commit)]);
    const other = new DbSpool(db, 1);
    const read = await other.read(file);
    assert.equal(read.envelope.id, env.id, 'another node reads the envelope');
    assert.ok(read.message.equals(Buffer.concat(message)), 'and the exact bytes, across chunks');
    assert.equal((await db.selectFrom('message_bytes').select('seq').execute()).length, 3, 'stored in 1 MiB chunks');
    await other.remove(file);
    await assert.rejects(spool.read(file), /no stored bytes/, 'removed for every node');
  }));
