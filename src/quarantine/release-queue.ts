// Putting a released message back in the delivery queue. Two ways in, same result (a
// spool file fsync'd and indexed, so it survives a crash):
//  - inside a running gateway, through its Acceptor: delivery starts at once;
//  - from another process (the CLI), straight into spool directory 0 and the index,
//    with the recipients "deferred, due now": the running gateway's retry poll (every
//    second) picks them up, and a gateway started later resumes them like any other.
import type { Db } from '../db/database.ts';
import type { NewEvent } from '../db/schema.ts';
import type { Acceptor } from '../spool/acceptor.ts';
import { indexRows } from '../spool/acceptor.ts';
import { DirSync } from '../spool/dir-sync.ts';
import type { Spool, SpoolEnvelope } from '../spool/spool-file.ts';

export interface ReleaseQueue {
  /** The node (spool directory) released messages are written under. */
  readonly node: number;
  enqueue(envelope: SpoolEnvelope, message: Buffer, events: NewEvent[]): Promise<void>;
}

export class AcceptorReleaseQueue implements ReleaseQueue {
  constructor(
    private readonly acceptor: Acceptor,
    readonly node: number,
  ) {}

  async enqueue(envelope: SpoolEnvelope, message: Buffer, events: NewEvent[]): Promise<void> {
    await this.acceptor.accept(envelope, [message], events);
  }
}

export class SpoolReleaseQueue implements ReleaseQueue {
  readonly #dirSync = new DirSync();

  constructor(
    private readonly spool: Spool,
    private readonly db: Db,
  ) {}

  get node(): number {
    return this.spool.node;
  }

  async enqueue(envelope: SpoolEnvelope, message: Buffer, events: NewEvent[]): Promise<void> {
    await this.spool.init();
    const { file, commit } = await this.spool.write(envelope, [message]);
    try {
      if (!commit) await this.#dirSync.sync(this.spool.dirOf(file));
      const [msg, rcpts, evs] = indexRows(envelope, file, message.length, events);
      const now = Date.now();
      await this.db.transaction().execute(async (trx) => {
        await trx.insertInto('messages').values(msg).execute();
        // "deferred, due now": what a running gateway's retry poll picks up.
        await trx.insertInto('recipients').values(rcpts.map((r) => ({ ...r, status: 'deferred' as const, next_attempt_at: now }))).execute();
        await trx.insertInto('events').values(evs).execute();
        await commit?.(trx);
      });
    } catch (err) {
      await this.spool.remove(file).catch(() => {});
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.#dirSync.close();
  }
}
