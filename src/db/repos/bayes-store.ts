// The Bayes classifier's counts in the database (the BayesStore interface of the spam
// engine). Batched as that interface's header describes: a message's tokens are read
// with one statement and learned with one statement, whatever their number, by passing
// them as one array (SQLite: a JSON array through json_each; PostgreSQL: a text[]
// through unnest); the statement text never changes, so it stays in the
// prepared-statement cache. Use times ("atime", for expiry) are written lazily:
// collected in memory and flushed once a minute, a few thousand tokens per statement,
// and only for tokens not used for a day, so scanning mail rarely writes at all.
// Reads go through a short-lived cache (counts and totals, 30 s): common tokens are
// in most messages, and learning done by another process (the CLI, another worker)
// only needs to show within seconds. Learning through this store clears it at once.
import { sql, type RawBuilder } from 'kysely';
import { dialectOf, type Db } from '../database.ts';
import { inTransaction } from '../transaction.ts';
import type { BayesChange, BayesStore, BayesTotals, TokenCounts } from '../../pipeline/filter/spam/index.ts';
import type { SpamClass } from '../../pipeline/filter/spam/index.ts';

/** Use times are kept at this granularity: a token used again within a day is not rewritten. */
const ATIME_GRANULARITY_MS = 24 * 3600 * 1000;
const TOUCH_FLUSH_MS = 60_000;
const CACHE_MS = 30_000;
const CACHE_MAX_TOKENS = 100_000;
const TOUCH_CHUNK = 5000;
/** Beyond this many distinct tokens waiting, further uses in the same minute are not recorded. */
const TOUCH_MAX_PENDING = 200_000;

/** The statements that differ between the engines: a token list as a table, and a two-value maximum. */
interface TokenSql {
  /** `(SELECT ...)`: the tokens as a one-column subquery, for `token IN ...`. */
  tokens(tokens: readonly string[]): RawBuilder<unknown>;
  /** `SELECT token, spam, ham, atime FROM ...`: one row per distinct token, for the upsert. */
  rows(tokens: readonly string[], spam: number, ham: number, at: number): RawBuilder<unknown>;
  greatest(a: RawBuilder<unknown>, b: RawBuilder<unknown>): RawBuilder<unknown>;
}

const SQLITE_TOKENS: TokenSql = {
  tokens: (t) => sql`(SELECT value FROM json_each(${JSON.stringify(t)}))`,
  // "WHERE true" keeps SQLite from reading ON CONFLICT as part of the SELECT's join.
  rows: (t, spam, ham, at) => sql`SELECT value, ${spam}, ${ham}, ${at} FROM json_each(${JSON.stringify(t)}) WHERE true`,
  greatest: (a, b) => sql`MAX(${a}, ${b})`,
};

const POSTGRES_TOKENS: TokenSql = {
  tokens: (t) => sql`(SELECT unnest(${[...t]}::text[]))`,
  // DISTINCT: PostgreSQL refuses an upsert that would touch one row twice.
  rows: (t, spam, ham, at) => sql`SELECT DISTINCT t.value, ${spam}::bigint, ${ham}::bigint, ${at}::bigint FROM unnest(${[...t]}::text[]) AS t(value)`,
  greatest: (a, b) => sql`GREATEST(${a}, ${b})`,
};

export class SqlBayesStore implements BayesStore {
  #touched = new Set<string>();
  #touchAt = 0;
  #lastFlush = Date.now();
  /** token → counts, or null for a token never learned. */
  #cache = new Map<string, TokenCounts | null>();
  #cachedTotals: BayesTotals | null = null;
  #cacheFrom = Date.now();

  readonly #sql: TokenSql;

  constructor(private readonly db: Db) {
    this.#sql = dialectOf(db) === 'postgres' ? POSTGRES_TOKENS : SQLITE_TOKENS;
  }

  #freshCache(): Map<string, TokenCounts | null> {
    if (Date.now() - this.#cacheFrom > CACHE_MS || this.#cache.size > CACHE_MAX_TOKENS) this.#dropCache();
    return this.#cache;
  }

  #dropCache(): void {
    this.#cache = new Map();
    this.#cachedTotals = null;
    this.#cacheFrom = Date.now();
  }

  async totals(): Promise<BayesTotals> {
    this.#freshCache();
    if (this.#cachedTotals) return { ...this.#cachedTotals };
    const rows = await this.db.selectFrom('bayes_totals').select(['class', 'messages']).execute();
    const t: BayesTotals = { spam: 0, ham: 0 };
    for (const r of rows) if (r.class === 'spam' || r.class === 'ham') t[r.class] = Number(r.messages);
    this.#cachedTotals = { ...t };
    return t;
  }

  async counts(tokens: readonly string[], touch?: Date): Promise<Map<string, TokenCounts>> {
    const out = new Map<string, TokenCounts>();
    if (!tokens.length) return out;
    const cache = this.#freshCache();
    const missing: string[] = [];
    for (const t of tokens) {
      const c = cache.get(t);
      if (c === undefined) missing.push(t);
      else if (c) out.set(t, { ...c });
    }
    if (missing.length) {
      const rows = await sql<{ token: string; spam: number; ham: number }>`
        SELECT token, spam, ham FROM bayes_tokens WHERE token IN ${this.#sql.tokens(missing)}`.execute(this.db);
      for (const t of missing) cache.set(t, null);
      for (const r of rows.rows) {
        const c = { spam: Number(r.spam), ham: Number(r.ham) };
        cache.set(r.token, c);
        out.set(r.token, { ...c });
      }
    }
    if (touch && out.size) {
      if (this.#touched.size < TOUCH_MAX_PENDING) for (const t of out.keys()) this.#touched.add(t);
      this.#touchAt = Math.max(this.#touchAt, touch.getTime());
      if (Date.now() - this.#lastFlush >= TOUCH_FLUSH_MS) await this.flushTouches();
    }
    return out;
  }

  /** Writes the use times collected by counts(). */
  async flushTouches(): Promise<void> {
    if (!this.#touched.size) return;
    const tokens = [...this.#touched];
    const at = this.#touchAt;
    this.#touched = new Set();
    this.#lastFlush = Date.now();
    for (let i = 0; i < tokens.length; i += TOUCH_CHUNK) {
      await sql`UPDATE bayes_tokens SET atime = ${at}
        WHERE atime < ${at - ATIME_GRANULARITY_MS} AND token IN ${this.#sql.tokens(tokens.slice(i, i + TOUCH_CHUNK))}`.execute(this.db);
    }
  }

  async learned(digest: string): Promise<SpamClass | null> {
    const r = await this.db.selectFrom('bayes_learned').select('class').where('digest', '=', digest).executeTakeFirst();
    return r ? r.class : null;
  }

  async apply(changes: readonly BayesChange[]): Promise<void> {
    for (const c of changes) {
      if (c.delta !== 1 && c.delta !== -1) throw new Error(`invalid Bayes change delta ${String(c.delta)}`);
      if (c.cls !== 'spam' && c.cls !== 'ham') throw new Error(`invalid Bayes class ${String(c.cls)}`);
    }
    this.#dropCache();
    try {
      await inTransaction(this.db, async (trx) => {
        const q = this.#sql;
        for (const c of changes) {
          const at = c.at.getTime();
          const spam = c.cls === 'spam' ? 1 : 0;
          const ham = c.cls === 'ham' ? 1 : 0;
          if (c.delta === 1) {
            await sql`INSERT INTO bayes_tokens (token, spam, ham, atime)
              ${q.rows(c.tokens, spam, ham, at)}
              ON CONFLICT (token) DO UPDATE SET spam = bayes_tokens.spam + excluded.spam, ham = bayes_tokens.ham + excluded.ham,
                atime = ${q.greatest(sql`bayes_tokens.atime`, sql`excluded.atime`)}`.execute(trx);
            await sql`UPDATE bayes_totals SET messages = messages + 1 WHERE class = ${c.cls}`.execute(trx);
            await sql`INSERT INTO bayes_learned (digest, class, learned_at) VALUES (${c.digest}, ${c.cls}, ${at})
              ON CONFLICT (digest) DO UPDATE SET class = excluded.class, learned_at = excluded.learned_at`.execute(trx);
          } else {
            await sql`UPDATE bayes_tokens SET spam = ${q.greatest(sql`spam - ${spam}`, sql`0`)}, ham = ${q.greatest(sql`ham - ${ham}`, sql`0`)}
              WHERE token IN ${q.tokens(c.tokens)}`.execute(trx);
            await sql`DELETE FROM bayes_tokens WHERE spam = 0 AND ham = 0 AND token IN ${q.tokens(c.tokens)}`.execute(trx);
            await sql`UPDATE bayes_totals SET messages = ${q.greatest(sql`messages - 1`, sql`0`)} WHERE class = ${c.cls}`.execute(trx);
            await sql`DELETE FROM bayes_learned WHERE digest = ${c.digest}`.execute(trx);
          }
        }
      });
    } finally {
      // Reads that ran while the transaction was open may have cached the old counts.
      this.#dropCache();
    }
  }

  async tokenCount(): Promise<number> {
    const r = await this.db.selectFrom('bayes_tokens').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  async clear(): Promise<void> {
    this.#touched = new Set();
    this.#dropCache();
    await inTransaction(this.db, async (trx) => {
      await trx.deleteFrom('bayes_tokens').execute();
      await trx.deleteFrom('bayes_learned').execute();
      await trx.updateTable('bayes_totals').set({ messages: 0 }).execute();
    });
  }

  async expire(before: Date): Promise<number> {
    await this.flushTouches();
    this.#dropCache();
    const res = await this.db.deleteFrom('bayes_tokens').where('atime', '<', before.getTime()).executeTakeFirst();
    return Number(res.numDeletedRows);
  }
}
