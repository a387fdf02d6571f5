// `hermes trace` on the links between messages: a copy split off a message says which
// message it is a copy of; a DSN says which message it reports on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Db } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { printTrace } from '../../src/cli/trace-command.ts';
import type { MessageDirection } from '../../src/db/schema.ts';
import { openTestDatabase } from '../helpers/temp-db.ts';

const PARENT = '0000000000000PRNT';
const COPY = '0000000000000COPY';
const DSN = '00000000000000DSN';

async function message(db: Db, id: string, direction: MessageDirection, parent: string | null, events: Array<[string, unknown]>) {
  const at = Date.UTC(2026, 10, 21, 12);
  await db.insertInto('messages').values({
    id, received_at: at, node: 0, direction, client_ip: null, client_helo: null, client_ptr: null, tls: null,
    mail_from: direction === 'dsn' ? '' : 'a@outside.test', size: 100, message_id: `<${id}@test>`, subject: 's',
    spool_file: '', state: 'done', parent_id: parent, done_at: at,
  }).execute();
  for (const [type, detail] of events) await db.insertInto('events').values({ message_id: id, at, type, recipient: null, detail: JSON.stringify(detail) }).execute();
}

async function traceOf(db: Db, id: string): Promise<string> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void lines.push(a.join(' '));
  try {
    await printTrace(db, id);
  } finally {
    console.log = log;
  }
  return lines.join('\n');
}

test('trace: a split copy shows "Copy of <message>", a DSN "Report on <message>"', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hermes-trace-'));
  const db = await openTestDatabase(dir);
  try {
    await migrate(db);
    await message(db, PARENT, 'inbound', null, [['copy', { queueId: COPY, copy: 'clean', recipients: ['b@corp.test'] }]]);
    await message(db, COPY, 'inbound', PARENT, [['split', { parent: PARENT, copy: 'clean', recipients: ['b@corp.test'] }]]);
    await message(db, DSN, 'dsn', PARENT, [['created', { dsnFor: PARENT }]]);

    const copy = await traceOf(db, COPY);
    assert.match(copy, new RegExp(`^Copy of\\s+${PARENT}$`, 'm'));
    assert.doesNotMatch(copy, /Report on/);
    const dsn = await traceOf(db, DSN);
    assert.match(dsn, new RegExp(`^Report on\\s+${PARENT}$`, 'm'));
    assert.doesNotMatch(dsn, /Copy of/);
    const parent = await traceOf(db, PARENT);
    assert.doesNotMatch(parent, /Copy of|Report on/);
  } finally {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});
