// What admins (CLI, later the console and REST API) do with held messages: list, show,
// release (deliver the held bytes as they are, without running the checks again),
// release and learn as ham, delete, and purge after the retention period. Every action
// leaves an event in the trace of the message as it was received.
import type { Db } from '../db/database.ts';
import {
  getQuarantine,
  listQuarantine,
  overallState,
  purgeable,
  removeQuarantineRows,
  type QuarantineEntry,
  type QuarantineFilter,
} from '../db/repos/quarantine.ts';
import type { PolicySnapshot } from '../smtp/relay-policy.ts';
import { traceHeaders } from '../pipeline/headers.ts';
import { newQueueId } from '../spool/queue-id.ts';
import type { QuarantineStore } from './quarantine-store.ts';
import type { ReleaseQueue } from './release-queue.ts';

/** Trains the Bayes classifier with a message as ham (absent when the install has no SQL Bayes store). */
export type HamLearner = (message: Buffer) => Promise<void>;

export interface QuarantineServiceOptions {
  store: QuarantineStore;
  releaseQueue: ReleaseQueue;
  /** The current relay policy (routes of released recipients are decided at release time). */
  policy: () => Promise<PolicySnapshot>;
  learnHam?: HamLearner;
}

export interface ReleaseResult {
  quarantineId: string;
  /** Queue id of the released copy. */
  queueId: string;
  recipients: string[];
  learned?: boolean;
}

/** Who did it, for the trace: "cli", "api:alice"... */
export interface Actor {
  by: string;
}

export class QuarantineService {
  constructor(private readonly o: QuarantineServiceOptions) {}

  get #db(): Db {
    return this.o.store.db;
  }

  list(filter: QuarantineFilter = {}): Promise<QuarantineEntry[]> {
    return listQuarantine(this.#db, filter);
  }

  async get(id: string): Promise<QuarantineEntry> {
    const e = await getQuarantine(this.#db, id);
    if (!e) throw new Error(`no quarantined message with id ${id}`);
    return e;
  }

  /** The held message's bytes. */
  async raw(id: string): Promise<Buffer> {
    return (await this.o.store.open(id)).message;
  }

  /**
   * Queues the held bytes for the given recipients (default: every one still held).
   * The recipients are claimed first, so two concurrent releases never send twice.
   */
  async release(id: string, opts: Actor & { recipients?: string[] }): Promise<ReleaseResult> {
    const { entry, message } = await this.o.store.open(id);
    const held = entry.recipients.filter((r) => r.state === 'held').map((r) => r.address);
    const wanted = opts.recipients?.length ? [...new Set(opts.recipients.map((r) => r.toLowerCase()))] : held;
    for (const r of wanted) {
      if (!entry.recipients.some((x) => x.address === r)) throw new Error(`${r} is not a recipient of quarantined message ${id}`);
      if (!held.includes(r)) throw new Error(`${r} is no longer held in ${id} (${entry.recipients.find((x) => x.address === r)!.state})`);
    }
    if (!wanted.length) throw new Error(`quarantined message ${id} has no recipient left to release (${entry.state})`);
    const queueId = newQueueId();
    const now = Date.now();
    await this.#setRecipients(id, wanted, 'held', { state: 'released', released_at: now, released_as: queueId });
    try {
      const policy = await this.o.policy();
      const { subject, messageId } = traceHeaders(message);
      await this.o.releaseQueue.enqueue(
        {
          id: queueId,
          receivedAt: now,
          node: this.o.releaseQueue.node,
          direction: entry.direction,
          mailFrom: entry.mail_from,
          recipients: wanted.map((address) => ({ address, ...policy.routeFor(address) })),
          clientIp: null,
          clientHelo: null,
          clientPtr: null,
          tls: null,
          messageId,
          subject,
          parentId: null,
        },
        message,
        [{ message_id: queueId, at: now, type: 'released', recipient: null, detail: JSON.stringify({ quarantineId: id, original: entry.message_id, by: opts.by }) }],
      );
    } catch (err) {
      await this.#setRecipients(id, wanted, 'released', { state: 'held', released_at: null, released_as: null });
      throw err;
    }
    await this.#event(entry.message_id, 'quarantine-released', { quarantineId: id, queueId, recipients: wanted, by: opts.by });
    return { quarantineId: id, queueId, recipients: wanted };
  }

  /** Release, then learn the message as ham (it was held wrongly). */
  async releaseAndLearnHam(id: string, opts: Actor & { recipients?: string[] }): Promise<ReleaseResult> {
    const learn = this.o.learnHam;
    if (!learn) throw new Error('this install has no Bayes store to learn with; use "release" alone');
    const result = await this.release(id, opts);
    await learn(await this.raw(id));
    const entry = await this.get(id);
    await this.#event(entry.message_id, 'quarantine-learned', { quarantineId: id, as: 'ham', by: opts.by });
    return { ...result, learned: true };
  }

  /** Deletes the held message (all its recipients); the index row stays until the purge, for the trace. */
  async delete(id: string, opts: Actor): Promise<void> {
    const entry = await this.get(id);
    if (entry.state === 'deleted') throw new Error(`quarantined message ${id} is already deleted`);
    await this.o.store.removeFile(entry.file);
    const now = Date.now();
    await this.#db.transaction().execute(async (trx) => {
      await trx.updateTable('quarantine_recipients').set({ state: 'deleted' }).where('quarantine_id', '=', id).where('state', '=', 'held').execute();
      await trx.updateTable('quarantine').set({ state: 'deleted', updated_at: now }).where('id', '=', id).execute();
      await trx
        .insertInto('events')
        .values({ message_id: entry.message_id, at: now, type: 'quarantine-deleted', recipient: null, detail: JSON.stringify({ quarantineId: id, by: opts.by }) })
        .execute();
    });
  }

  /**
   * Deletes the held message for some recipients only (a portal user deletes their own
   * copy); the file goes once no recipient holds it any more.
   */
  async deleteFor(id: string, recipients: string[], opts: Actor): Promise<void> {
    const entry = await this.get(id);
    const wanted = [...new Set(recipients.map((r) => r.toLowerCase()))];
    for (const r of wanted) {
      const rec = entry.recipients.find((x) => x.address === r);
      if (!rec) throw new Error(`${r} is not a recipient of quarantined message ${id}`);
      if (rec.state !== 'held') throw new Error(`${r} is no longer held in ${id} (${rec.state})`);
    }
    const now = Date.now();
    const left = await this.#db.transaction().execute(async (trx) => {
      const res = await trx.updateTable('quarantine_recipients').set({ state: 'deleted' }).where('quarantine_id', '=', id).where('address', 'in', wanted).where('state', '=', 'held').executeTakeFirst();
      if (Number(res.numUpdatedRows) !== wanted.length) throw new Error(`quarantined message ${id} changed meanwhile (released or deleted by someone else); nothing done`);
      const all = await trx.selectFrom('quarantine_recipients').select('state').where('quarantine_id', '=', id).execute();
      await trx.updateTable('quarantine').set({ state: overallState(all), updated_at: now }).where('id', '=', id).execute();
      await trx
        .insertInto('events')
        .values({ message_id: entry.message_id, at: now, type: 'quarantine-deleted', recipient: null, detail: JSON.stringify({ quarantineId: id, recipients: wanted, by: opts.by }) })
        .execute();
      return overallState(all);
    });
    // Kept while a released copy may still be learned from; the purge removes it later.
    if (left === 'deleted') await this.o.store.removeFile(entry.file);
  }

  /** Indexes again held files whose index row was lost (see QuarantineStore.reindexOrphans). */
  reindexOrphans(minAgeMs?: number): Promise<number> {
    return this.o.store.reindexOrphans(minAgeMs);
  }

  /** Removes every entry held longer ago than the retention period; returns how many. */
  async purge(retentionDays: number, now = Date.now()): Promise<number> {
    const before = now - retentionDays * 86_400_000;
    let total = 0;
    for (;;) {
      const rows = await purgeable(this.#db, before, 500);
      if (!rows.length) return total;
      for (const r of rows) await this.o.store.removeFile(r.file);
      await removeQuarantineRows(this.#db, rows.map((r) => r.id));
      const at = Date.now();
      await this.#db
        .insertInto('events')
        .values(rows.map((r) => ({ message_id: r.message_id, at, type: 'quarantine-purged', recipient: null, detail: JSON.stringify({ quarantineId: r.id, retentionDays }) })))
        .execute();
      total += rows.length;
    }
  }

  async #setRecipients(
    id: string,
    addresses: string[],
    from: 'held' | 'released',
    set: { state: 'held' | 'released'; released_at: number | null; released_as: string | null },
  ): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      const res = await trx
        .updateTable('quarantine_recipients')
        .set(set)
        .where('quarantine_id', '=', id)
        .where('address', 'in', addresses)
        .where('state', '=', from)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== addresses.length) throw new Error(`quarantined message ${id} changed meanwhile (released or deleted by someone else); nothing done`);
      const all = await trx.selectFrom('quarantine_recipients').select('state').where('quarantine_id', '=', id).execute();
      await trx.updateTable('quarantine').set({ state: overallState(all), updated_at: Date.now() }).where('id', '=', id).execute();
    });
  }

  async #event(messageId: string, type: string, detail: unknown): Promise<void> {
    await this.#db.insertInto('events').values({ message_id: messageId, at: Date.now(), type, recipient: null, detail: JSON.stringify(detail) }).execute();
  }
}
