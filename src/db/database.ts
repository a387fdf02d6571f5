// The database handle. SQLite (better-sqlite3) out of the box; the schema and queries
// stay dialect-neutral through Kysely so PostgreSQL can take over for several nodes.
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Database } from './schema.ts';

export type Db = Kysely<Database>;

export interface OpenOptions {
  /**
   * FULL (default) fsyncs every commit: right for configuration changes from the CLI.
   * The gateway's own connection uses NORMAL: its message index can be rebuilt from the
   * fsync'd spool files, so it need not pay an fsync per commit on the hot path.
   */
  synchronous?: 'FULL' | 'NORMAL';
  /**
   * How long a statement waits for another process's write lock (default 10 s). SQLite
   * waits by sleeping, which blocks the event loop; the gateway's batched index writer
   * uses 0 and retries on a timer instead, so sessions keep running meanwhile.
   */
  busyTimeoutMs?: number;
}

export function openDatabase(file: string, opts: OpenOptions = {}): Db {
  mkdirSync(dirname(file), { recursive: true });
  const sqlite = new SQLite(file);
  // WAL lets readers (CLI, console) run beside the gateway's writer.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma(`synchronous = ${opts.synchronous ?? 'FULL'}`);
  sqlite.pragma(`busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs ?? 10_000))}`);
  sqlite.pragma('foreign_keys = ON');
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
}

/**
 * Kysely prepares every query anew; on the hot path the same few statements run
 * thousands of times a second, so prepared statements are kept by SQL text.
 */
function withStatementCache(sqlite: SQLite.Database, max = 256) {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(text: string) {
      // Every transaction takes the write lock at BEGIN: a deferred transaction that
      // reads and then writes fails at once ("database is locked") when another process
      // wrote in between, and busy_timeout cannot help it.
      const sql = text === 'begin' ? 'begin immediate' : text;
      let stmt = cache.get(sql);
      if (!stmt) {
        stmt = sqlite.prepare(sql);
        if (cache.size >= max) cache.delete(cache.keys().next().value!);
        cache.set(sql, stmt);
      }
      return stmt;
    },
  };
}

/** True for SQLite's "database is locked" (another connection holds the write lock). */
export function isBusyError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_BUSY_SNAPSHOT';
}
