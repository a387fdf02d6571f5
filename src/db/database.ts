// The database handle. SQLite (better-sqlite3) out of the box, PostgreSQL for several
// gateway nodes sharing one database. The schema and queries stay dialect-neutral through
// Kysely; the few statements that cannot be (Bayes' batched token lookups, the queue's
// claim) ask dialectOf() and carry a variant per engine, inside src/db.
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { Kysely, PostgresAdapter, PostgresDialect, PostgresQueryCompiler, SqliteDialect, type ColumnDefinitionNode, type DataTypeNode } from 'kysely';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Database } from './schema.ts';
import { parseDatabaseLocation } from './location.ts';

export { parseDatabaseLocation, redactDatabaseLocation, isPostgresLocation } from './location.ts';

export type Db = Kysely<Database>;
export type Dialect = 'sqlite' | 'postgres';

export interface OpenOptions {
  /**
   * FULL (default) fsyncs every commit: right for configuration changes from the CLI.
   * The gateway's own connection uses NORMAL: its message index can be rebuilt from the
   * fsync'd spool files, so it need not pay an fsync per commit on the hot path.
   * (SQLite only: PostgreSQL commits are durable by the server's own settings.)
   */
  synchronous?: 'FULL' | 'NORMAL';
  /**
   * How long a statement waits for another process's write lock (default 10 s). SQLite
   * waits by sleeping, which blocks the event loop; the gateway's batched index writer
   * uses 0 and retries on a timer instead, so sessions keep running meanwhile.
   * (SQLite only: PostgreSQL waits for row locks without blocking the event loop.)
   */
  busyTimeoutMs?: number;
  /** PostgreSQL connections in the pool (default 10). */
  poolSize?: number;
}

export function openDatabase(location: string, opts: OpenOptions = {}): Db {
  const loc = parseDatabaseLocation(location);
  return loc.dialect === 'postgres' ? openPostgres(loc.url, opts) : openSqlite(loc.file, opts);
}

function openSqlite(file: string, opts: OpenOptions): Db {
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
 * PostgreSQL returns 64-bit integers and numerics as strings (they may not fit a JS
 * number). Ours are millisecond timestamps, sizes and counts, far below 2^53, and the
 * code reads them as numbers as it does from SQLite.
 */
const PG_INT8 = 20;
const PG_NUMERIC = 1700;
const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === PG_INT8 || oid === PG_NUMERIC) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as 'text');
  },
} as pg.CustomTypesConfig;

function openPostgres(url: string, opts: OpenOptions): Db {
  const pool = new pg.Pool({ connectionString: url, max: opts.poolSize ?? 10, types: pgTypes });
  // An idle connection the server dropped (a restart, a failover) is replaced on the next
  // query; without a listener its error would end the process.
  pool.on('error', () => {});
  // The pool listens only to idle clients: a client checked out when the server goes away
  // (a transaction, a claim in flight) emits 'error' too, and unheard that killed the node
  // at a PostgreSQL restart. Its query rejects on its own; the pool drops the client.
  pool.on('connect', (client) => client.on('error', () => {}));
  return new Kysely<Database>({ dialect: new PortablePostgresDialect({ pool }) });
}

/**
 * The migrations are written once, with SQLite's column types in mind; on PostgreSQL they
 * mean: integer → bigint (SQLite integers are 64-bit, and timestamps are milliseconds),
 * integer primary key autoincrement → bigserial, blob → bytea, real → double precision
 * (SQLite's real is 8 bytes; PostgreSQL's is 4). So every migration, including those
 * still to come, builds the same schema on both engines.
 */
class PortableSchemaCompiler extends PostgresQueryCompiler {
  #serial = false;

  protected override visitColumnDefinition(node: ColumnDefinitionNode): void {
    if (!node.autoIncrement) return super.visitColumnDefinition(node);
    this.#serial = true;
    try {
      super.visitColumnDefinition({ ...node, autoIncrement: undefined });
    } finally {
      this.#serial = false;
    }
  }

  protected override visitDataType(node: DataTypeNode): void {
    if (this.#serial) return void this.append('bigserial');
    const t = node.dataType.toLowerCase();
    this.append(t === 'integer' || t === 'int' ? 'bigint' : t === 'blob' ? 'bytea' : t === 'real' ? 'double precision' : node.dataType);
  }
}

class PortablePostgresDialect extends PostgresDialect {
  override createQueryCompiler() {
    return new PortableSchemaCompiler();
  }
}

export function dialectOf(db: Kysely<any>): Dialect {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
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

/**
 * PostgreSQL rolled the whole transaction back and says running it again may succeed:
 * a deadlock with another node's transaction or a serialization failure.
 */
export function isRetryableTransactionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}

/** The server is unreachable or going away: the caller should answer 4xx and retry later. */
export function isConnectionError(err: unknown): boolean {
  const code = String((err as { code?: unknown } | null)?.code ?? '');
  return ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', '57P01', '57P02', '57P03', '08006', '08001', '08003'].includes(code);
}
