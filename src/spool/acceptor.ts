// Making a message durable: spool file fsync'd, its directory entry fsync'd, its index
// rows written. Only when accept() resolves may the SMTP session answer 250.
import type { Logger } from 'pino';
import type { Db } from '../db/database.ts';
import type { NewEvent, NewRecipient } from '../db/schema.ts';
import type { IndexWriter } from '../trace/index-writer.ts';
import { DirSync } from './dir-sync.ts';
import type { SpoolSpace } from './free-space.ts';
import type { Spool, SpoolEnvelope } from './spool-file.ts';

export interface AcceptedMessage {
  envelope: SpoolEnvelope;
  file: string;
  size: number;
  /** The bytes, kept for immediate delivery of small messages (saves reading the file back). */
  message: Buffer | null;
}

/** Above this, delivery reads the message back from the spool instead of holding it. */
const KEEP_IN_MEMORY_BYTES = 1024 * 1024;

export class Acceptor {
  readonly #dirSync = new DirSync();
  readonly #listeners: Array<(m: AcceptedMessage) => void> = [];
  #lease: (() => RecipientLease) | null = null;

  constructor(
    private readonly spool: Spool,
    private readonly index: IndexWriter,
    private readonly log: Logger,
    private readonly space: SpoolSpace | null = null,
  ) {}

  /**
   * For mail arriving from outside: refuses (452 4.3.1) below the spool's free-space
   * reserve. Internal writes (DSNs, released quarantine) use the reserve instead.
   */
  async ensureSpace(incomingBytes: number): Promise<void> {
    await this.space?.ensure(incomingBytes);
  }

  /** The last free-space look found the spool below its reserve (for error replies). */
  get storageLow(): boolean {
    return this.space?.low ?? false;
  }

  /** The lease accepted mail's recipients get (the delivery scheduler's: it delivers them). */
  leaseWith(fn: () => RecipientLease): void {
    this.#lease = fn;
  }

  /** Called with every message once it is durable (the delivery scheduler listens). */
  onAccepted(fn: (m: AcceptedMessage) => void): void {
    this.#listeners.push(fn);
  }

  /** `commitWith` runs in the same transaction as the message's index rows. */
  async accept(envelope: SpoolEnvelope, message: Buffer[], extraEvents: NewEvent[] = [], commitWith?: (db: Db) => Promise<void>): Promise<AcceptedMessage> {
    const size = message.reduce((n, b) => n + b.length, 0);
    const { file, commit } = await this.spool.write(envelope, message);
    try {
      // A spool file is durable once its directory entry is; bytes kept in the database
      // are durable with the commit below.
      if (!commit) await this.#dirSync.sync(this.spool.dirOf(file));
      // Queued in the same tick, all go into the index writer's next batch: one transaction.
      await Promise.all([
        this.index.insertMessage(...indexRows(envelope, file, size, extraEvents, this.#lease?.() ?? null)),
        ...(commit ? [this.index.op(commit)] : []),
        ...(commitWith ? [this.index.op(commitWith)] : []),
      ]);
    } catch (err) {
      // Not acknowledged, so not kept: the client will retry.
      await this.spool.remove(file).catch(() => {});
      throw err;
    }
    const accepted = { envelope, file, size, message: size <= KEEP_IN_MEMORY_BYTES ? Buffer.concat(message, size) : null };
    for (const fn of this.#listeners) {
      try {
        fn(accepted);
      } catch (err) {
        this.log.error({ err, queueId: envelope.id }, 'accepted-message listener failed');
      }
    }
    return accepted;
  }
}

/** Who delivers a recipient, until when (see db/repos/queue-lease.ts). */
export interface RecipientLease {
  owner: string;
  until: number;
}

/**
 * Index rows for a spooled message; also used to rebuild the index from spool files.
 * Without a lease the recipients are free for any node's poll to claim.
 */
export function indexRows(env: SpoolEnvelope, file: string, size: number, extraEvents: NewEvent[] = [], lease: RecipientLease | null = null) {
  const now = Date.now();
  const recipients: NewRecipient[] = env.recipients.map((r, idx) => ({
    message_id: env.id,
    idx,
    address: r.address,
    domain: r.address.slice(r.address.lastIndexOf('@') + 1).toLowerCase(),
    route: r.route,
    require_tls: r.requireTls ? 1 : 0,
    status: 'queued',
    attempts: 0,
    first_attempt_at: null,
    next_attempt_at: env.receivedAt,
    last_reply: null,
    updated_at: now,
    lease_owner: lease?.owner ?? null,
    lease_until: lease?.until ?? null,
  }));
  const events: NewEvent[] = [
    ...extraEvents,
    { message_id: env.id, at: now, type: 'queued', recipient: null, detail: JSON.stringify({ size, recipients: env.recipients.length }) },
  ];
  const message = {
    id: env.id,
    received_at: env.receivedAt,
    node: env.node,
    direction: env.direction,
    client_ip: env.clientIp,
    client_helo: env.clientHelo,
    client_ptr: env.clientPtr,
    tls: env.tls,
    mail_from: env.mailFrom,
    size,
    message_id: env.messageId,
    subject: env.subject,
    spool_file: file,
    state: 'queued' as const,
    parent_id: env.parentId,
    done_at: null,
  };
  return [message, recipients, events] as const;
}
