// Batched writes to the message index and trace. Everything written while one batch
// runs goes into the next one, in a single transaction with multi-row inserts: at
// hundreds of messages a second this is the difference between one commit per message
// and one per batch. Callers that need ordering (a row must exist before its update)
// await the promise; trace events are fire-and-forget.
import { isBusyError, isRetryableTransactionError, type Db } from '../db/database.ts';
import type { NewEvent, NewMessage, NewRecipient } from '../db/schema.ts';
import type { Logger } from 'pino';

type Op = (db: Db) => Promise<void>;

const MAX_ROWS_PER_INSERT = 200; // keeps bound parameters well under SQLite's limit (PostgreSQL's is higher)

/**
 * Commits start at most this often. Under load a commit per event-loop turn holds one or
 * two messages; waiting a couple of milliseconds lets a batch gather ten, which saves
 * commits and, with several workers on one database, write-lock waits (SQLite's busy
 * handler sleeps with the event loop blocked). The cost is at most this much latency
 * before a 250, next to an fsync that takes longer.
 */
const DEFAULT_GROUP_WINDOW_MS = 2;

/** Waiting for another process's write lock: retry this often, give up after this long. */
const BUSY_RETRY_MS = 1;
const BUSY_GIVE_UP_MS = 10_000;

/** Sees every record as it is queued for writing (the metrics count from it). */
export interface IndexObserver {
  observeMessage(msg: NewMessage, events: readonly NewEvent[]): void;
  observeEvent(type: string): void;
}

export class IndexWriter {
  #messages: NewMessage[] = [];
  #recipients: NewRecipient[] = [];
  #events: NewEvent[] = [];
  #ops: Op[] = [];
  #waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  #scheduled = false;
  #running: Promise<void> | null = null;
  #lastCommitAt = 0;
  readonly #windowMs: number;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    opts: { groupWindowMs?: number; observer?: IndexObserver } = {},
  ) {
    this.#windowMs = opts.groupWindowMs ?? DEFAULT_GROUP_WINDOW_MS;
    this.#observer = opts.observer ?? null;
  }

  readonly #observer: IndexObserver | null;

  insertMessage(msg: NewMessage, recipients: NewRecipient[], events: NewEvent[]): Promise<void> {
    this.#messages.push(msg);
    for (const r of recipients) this.#recipients.push(r);
    for (const e of events) this.#events.push(e);
    this.#observer?.observeMessage(msg, events);
    return this.#wait();
  }

  event(messageId: string, type: string, detail?: unknown, recipient?: string | null): void {
    this.#observer?.observeEvent(type);
    this.#events.push({
      message_id: messageId,
      at: Date.now(),
      type,
      recipient: recipient ?? null,
      detail: detail === undefined ? null : typeof detail === 'string' ? detail : JSON.stringify(detail),
    });
    this.#schedule();
  }

  /** Any other write, in order with the batch. */
  op(fn: Op): Promise<void> {
    this.#ops.push(fn);
    return this.#wait();
  }

  /** Resolves when everything queued so far is committed. */
  flush(): Promise<void> {
    if (!this.#pending()) return this.#running ?? Promise.resolve();
    return this.#wait();
  }

  #pending(): boolean {
    return this.#messages.length + this.#events.length + this.#ops.length > 0;
  }

  #wait(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#running) return;
    this.#scheduled = true;
    const run = () => {
      this.#scheduled = false;
      void this.#runLoop();
    };
    const wait = this.#lastCommitAt + this.#windowMs - performance.now();
    if (wait > 0) setTimeout(run, wait);
    else setImmediate(run);
  }

  /**
   * Runs one batch in a write transaction. When another process holds the write lock,
   * BEGIN fails at once (the connection has no busy timeout) and is retried on a timer,
   * so the event loop keeps serving sessions while it waits. Only BEGIN is retried: once
   * the batch's statements have run, an error is the batch's own. On PostgreSQL there is
   * no write lock to wait for (rows lock, and waiting does not block the event loop); a
   * batch chosen as a deadlock victim was rolled back whole, so it is simply run again.
   */
  async #inTransaction(fn: (trx: Db) => Promise<void>): Promise<void> {
    const giveUpAt = performance.now() + BUSY_GIVE_UP_MS;
    for (;;) {
      let began = false;
      try {
        await this.db.transaction().execute(async (trx) => {
          began = true;
          await fn(trx);
        });
        return;
      } catch (err) {
        const retry = (!began && isBusyError(err)) || isRetryableTransactionError(err);
        if (!retry || performance.now() > giveUpAt) throw err;
        await new Promise((r) => setTimeout(r, BUSY_RETRY_MS));
      }
    }
  }

  /** Lets the next batch gather for the rest of the group window. */
  async #gather(): Promise<void> {
    const wait = this.#lastCommitAt + this.#windowMs - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }

  async #runLoop(): Promise<void> {
    if (this.#running) return;
    let done!: () => void;
    this.#running = new Promise((r) => (done = r));
    try {
      while (this.#pending() || this.#waiters.length) {
        await this.#gather();
        this.#lastCommitAt = performance.now();
        const messages = this.#messages.splice(0);
        const recipients = this.#recipients.splice(0);
        const events = this.#events.splice(0);
        const ops = this.#ops.splice(0);
        const waiters = this.#waiters.splice(0);
        try {
          await this.#inTransaction(async (trx) => {
            for (let i = 0; i < messages.length; i += MAX_ROWS_PER_INSERT) {
              await trx.insertInto('messages').values(messages.slice(i, i + MAX_ROWS_PER_INSERT)).execute();
            }
            for (let i = 0; i < recipients.length; i += MAX_ROWS_PER_INSERT) {
              await trx.insertInto('recipients').values(recipients.slice(i, i + MAX_ROWS_PER_INSERT)).execute();
            }
            for (const op of ops) await op(trx);
            for (let i = 0; i < events.length; i += MAX_ROWS_PER_INSERT) {
              await trx.insertInto('events').values(events.slice(i, i + MAX_ROWS_PER_INSERT)).execute();
            }
          });
          for (const w of waiters) w.resolve();
        } catch (err) {
          this.log.error({ err }, 'index write failed');
          for (const w of waiters) w.reject(err);
        }
      }
    } finally {
      this.#running = null;
      done();
    }
  }
}
