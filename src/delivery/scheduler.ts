// The delivery side of the queue. Fresh messages are handed over the moment they are
// durable; every other pending recipient (queued or deferred) comes back from the index
// when its next-attempt time is due, a batch per poll, so no backlog is too large to
// resume. The rule: every pending recipient is either being attempted or has a
// next-attempt time this poll reaches; a failure nobody foresaw defers it, never strands it.
//
// Several workers, and several gateway nodes on one PostgreSQL, work one queue: a
// recipient is delivered by the node holding its lease (db/repos/queue-lease.ts). A node
// leases the mail it accepts, claims due mail nobody holds (or whose holder died: its
// lease ran out), renews its leases while it delivers, and drops each lease when the
// attempt is recorded; only the holder's record counts.
import type { Logger } from 'pino';
import type { Db } from '../db/database.ts';
import type { MessageDirection } from '../db/schema.ts';
import type { DnsResolver } from '../dns/resolver.ts';
import type { PolicyStore } from '../smtp/relay-policy.ts';
import type { AcceptedMessage, Acceptor } from '../spool/acceptor.ts';
import type { Spool } from '../spool/spool-file.ts';
import type { IndexWriter } from '../trace/index-writer.ts';
import { DestinationError, resolveDestinations } from './destinations.ts';
import { ConnectionFailure, type RecipientResult, type SmtpClientPool, type TlsInfo } from './smtp-client.ts';
import type { TransportPlan, TransportSecurity } from './transport-security.ts';
import { mxAllowed } from './mta-sts.ts';
import { parseRoute } from './route.ts';
import { delayWarningDue, nextAttempt } from './retry-schedule.ts';
import { sendBounce, sendDelayWarning, type DsnSigner } from './bounce.ts';
import { claimDueRecipients, releaseLeases, releaseLeasesOf, renewLeases, type ClaimedRecipient } from '../db/repos/queue-lease.ts';

/** The shortest lease, whatever delivery.leaseSec says: renewals must have time to land. */
const MIN_LEASE_MS = 5000;

export interface DeliveryJob {
  messageId: string;
  file: string;
  mailFrom: string;
  direction: MessageDirection;
  receivedAt: number;
  route: string;
  requireTls: boolean;
  /** `warned`: its delay warning was sent (delivery.retry.delayWarningSec). */
  rcpts: Array<{ idx: number; address: string; warned?: boolean }>;
  /** Failed attempts so far (the most of the job's recipients). */
  attempts: number;
  firstAttemptAt: number | null;
  /** The message bytes when still in memory from acceptance; otherwise read from the spool. */
  message: Buffer | null;
}

export interface SchedulerOptions {
  db: Db;
  index: IndexWriter;
  spool: Spool;
  acceptor: Acceptor;
  dns: DnsResolver;
  pool: SmtpClientPool;
  /** The TLS level, MTA-STS policy and smarthost login of each attempt. */
  transport: TransportSecurity;
  policy: PolicyStore;
  hostname: string;
  node: number;
  /** Who holds the leases this scheduler takes: unique among the nodes sharing the database. */
  owner: string;
  log: Logger;
  /** DKIM-signs the DSNs this scheduler writes (the keys of their From domain). */
  signDsn?: DsnSigner;
  pollIntervalMs?: number;
  maxConcurrent?: number;
}

export class DeliveryScheduler {
  readonly #inFlight = new Set<string>();
  /** Recipients not yet final, per message accepted by this process: no query to know when it is done. */
  readonly #pendingCount = new Map<string, number>();
  readonly #waiting: DeliveryJob[] = [];
  /**
   * Recipients whose deferral could not even be written (a full disk): not retried before
   * this time. Their lease could not be dropped either; it is dropped when the hold ends.
   */
  readonly #heldUntil = new Map<string, number>();
  #running = 0;
  #stopping = false;
  #timer: NodeJS.Timeout | null = null;
  #renewTimer: NodeJS.Timeout | null = null;
  #polling = false;
  #idle: Array<() => void> = [];
  readonly #maxConcurrent: number;

  constructor(private readonly o: SchedulerOptions) {
    this.#maxConcurrent = o.maxConcurrent ?? 200;
    o.acceptor.onAccepted((m) => this.enqueueAccepted(m));
    // Mail this node accepts is leased to it in the same commit: it delivers it at once,
    // and no other node's poll takes it meanwhile.
    o.acceptor.leaseWith(() => ({ owner: o.owner, until: this.leaseUntil() }));
  }

  /** The lease length now (delivery.leaseSec, at least MIN_LEASE_MS). */
  leaseMs(): number {
    return Math.max(MIN_LEASE_MS, this.o.policy.cached().settings['delivery.leaseSec'] * 1000);
  }

  /** Until when a lease taken now runs (also used by the acceptor for fresh mail). */
  leaseUntil(now = Date.now()): number {
    return now + this.leaseMs();
  }

  /**
   * Before the first poll: this node, (re)starting, delivers nothing yet, so leases held
   * under its name by an earlier run are let go at once rather than left to run out.
   */
  async releaseOwnLeases(): Promise<void> {
    await this.o.index.op(async (db) => void (await releaseLeases(db, this.o.owner)));
  }

  start(): void {
    const interval = this.o.pollIntervalMs ?? 1000;
    this.#timer = setInterval(() => void this.pollDue(), interval);
    this.#timer.unref();
    this.#scheduleRenewal();
  }

  /** Leases are renewed at a third of their length: two renewals can fail before one runs out. */
  #scheduleRenewal(): void {
    if (this.#stopping) return;
    this.#renewTimer = setTimeout(() => {
      const until = this.leaseUntil();
      this.o.index
        .op(async (db) => void (await renewLeases(db, this.o.owner, until, this.#messagesInHand())))
        .catch((err: unknown) => this.o.log.error({ err }, 'could not renew the delivery leases'))
        .finally(() => this.#scheduleRenewal());
    }, this.leaseMs() / 3);
    this.#renewTimer.unref();
  }

  /** The messages with a recipient being attempted or waiting for a slot here. */
  #messagesInHand(): string[] {
    return [...new Set([...this.#inFlight].map((k) => k.slice(0, k.lastIndexOf(':'))))];
  }

  /** Stops starting deliveries, waits (until the deadline) for those under way, lets go of the rest. */
  async stop(deadlineMs: number): Promise<void> {
    this.#stopping = true;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#renewTimer) clearTimeout(this.#renewTimer);
    this.#waiting.length = 0;
    if (this.#running > 0) {
      await Promise.race([new Promise<void>((r) => this.#idle.push(r)), new Promise((r) => setTimeout(r, deadlineMs).unref())]);
    }
    // What was waiting for a slot, and what is still running past the deadline, goes back
    // to the queue for any node (a delivery still running may then be repeated: a
    // duplicate, never a loss).
    await this.o.index.op((db) => releaseLeases(db, this.o.owner).then(() => {})).catch((err: unknown) => this.o.log.error({ err }, 'could not release the delivery leases'));
  }

  get activeDeliveries(): number {
    return this.#running;
  }

  enqueueAccepted(m: AcceptedMessage): void {
    if (this.#stopping) return; // stays in the spool; the next start resumes it
    this.#pendingCount.set(m.envelope.id, m.envelope.recipients.length);
    const groups = new Map<string, DeliveryJob>();
    m.envelope.recipients.forEach((r, idx) => {
      const key = `${r.route}|${r.requireTls ? 1 : 0}`;
      let job = groups.get(key);
      if (!job) {
        job = {
          messageId: m.envelope.id,
          file: m.file,
          mailFrom: m.envelope.mailFrom,
          direction: m.envelope.direction,
          receivedAt: m.envelope.receivedAt,
          route: r.route,
          requireTls: r.requireTls,
          rcpts: [],
          attempts: 0,
          firstAttemptAt: null,
          message: m.message,
        };
        groups.set(key, job);
      }
      job.rcpts.push({ idx, address: r.address });
    });
    for (const job of groups.values()) this.#submit(job);
  }

  /** After a restart: the first batch of what is pending; the poll brings the rest. */
  async resumeAll(): Promise<number> {
    return this.pollDue();
  }

  /** Picks up pending recipients (never attempted, or deferred) whose attempt time has come. */
  async pollDue(): Promise<number> {
    if (this.#polling || this.#stopping) return 0;
    this.#polling = true;
    try {
      return await this.#loadDue();
    } catch (err) {
      this.o.log.error({ err }, 'retry poll failed');
      return 0;
    } finally {
      this.#polling = false;
    }
  }

  /**
   * One batch of due recipients, oldest first. Those already in hand (being attempted or
   * waiting for a delivery slot) are skipped; the batch bounds memory, and as they finish
   * the next poll reaches the ones behind them.
   */
  async #loadDue(): Promise<number> {
    const now = Date.now();
    const batch = Math.max(1, this.o.policy.cached().settings['delivery.resumeBatch']);
    // Holds that ended: their leases are dropped in the claim's transaction, so the claim
    // takes them again (a lease still held would hide them from every node's claim).
    const unheld: Array<{ messageId: string; idx: number }> = [];
    for (const [key, until] of this.#heldUntil) {
      if (until > now) continue;
      this.#heldUntil.delete(key);
      const sep = key.lastIndexOf(':');
      unheld.push({ messageId: key.slice(0, sep), idx: Number(key.slice(sep + 1)) });
    }
    // Claimed inside the index writer's transaction: on SQLite it waits for the write lock
    // on a timer instead of blocking the event loop, and the leases commit with the batch.
    let rows: ClaimedRecipient[] = [];
    const until = this.leaseUntil(now);
    try {
      await this.o.index.op(async (trx) => {
        if (unheld.length) await releaseLeasesOf(trx, this.o.owner, unheld);
        rows = await claimDueRecipients(trx, this.o.owner, now, until, batch);
      });
    } catch (err) {
      // Still cannot write: hold them again until the next poll.
      for (const r of unheld) this.#heldUntil.set(`${r.messageId}:${r.idx}`, now);
      throw err;
    }
    const jobs = new Map<string, DeliveryJob>();
    for (const r of rows) {
      const rcptKey = `${r.message_id}:${r.idx}`;
      if (this.#inFlight.has(rcptKey) || this.#heldUntil.has(rcptKey)) continue;
      const key = `${r.message_id}|${r.route}|${r.require_tls}`;
      let job = jobs.get(key);
      if (!job) {
        job = {
          messageId: r.message_id,
          file: r.spool_file,
          mailFrom: r.mail_from,
          direction: r.direction,
          receivedAt: r.received_at,
          route: r.route,
          requireTls: r.require_tls === 1,
          rcpts: [],
          attempts: 0,
          firstAttemptAt: null,
          message: null,
        };
        jobs.set(key, job);
      }
      job.rcpts.push({ idx: r.idx, address: r.address, warned: r.delay_warned_at !== null });
      job.attempts = Math.max(job.attempts, r.attempts);
      const first = r.first_attempt_at;
      if (first !== null) job.firstAttemptAt = job.firstAttemptAt === null ? first : Math.min(job.firstAttemptAt, first);
    }
    for (const job of jobs.values()) this.#submit(job);
    return jobs.size;
  }

  #submit(job: DeliveryJob): void {
    if (this.#stopping) return; // stays in the spool; the next start resumes it
    // A poll can read a fresh message's rows just before its acceptance hands it over.
    job.rcpts = job.rcpts.filter((r) => !this.#inFlight.has(`${job.messageId}:${r.idx}`));
    if (job.rcpts.length === 0) return;
    for (const r of job.rcpts) this.#inFlight.add(`${job.messageId}:${r.idx}`);
    if (this.#running >= this.#maxConcurrent) {
      this.#waiting.push(job);
      return;
    }
    this.#start(job);
  }

  #start(job: DeliveryJob): void {
    this.#running++;
    this.#deliver(job)
      .catch((err: unknown) => this.#deferUnexpected(job, err))
      .finally(() => {
        for (const r of job.rcpts) this.#inFlight.delete(`${job.messageId}:${r.idx}`);
        this.#running--;
        const next = this.#stopping ? undefined : this.#waiting.shift();
        if (next) this.#start(next);
        if (this.#running === 0) for (const w of this.#idle.splice(0)) w();
      });
  }

  async #deliver(job: DeliveryJob): Promise<void> {
    const settings = this.o.policy.cached().settings;
    const log = this.o.log.child({ queueId: job.messageId });
    const to = job.rcpts.map((r) => r.address);
    let message: Buffer;
    try {
      message = job.message ?? (await this.o.spool.readMessage(job.file));
      job.message = null; // a retry reads it again rather than holding it while deferred
    } catch (err) {
      // Deleted from the queue meanwhile (the update below then changes nothing), or the
      // file is gone or damaged: deferred on the retry schedule like any other failure,
      // so an admin sees it in the queue and it expires at the queue lifetime, instead
      // of being tried again every poll.
      log.error({ err, file: job.file }, 'spool file unreadable; recipients deferred');
      const reply = `local error: the message's spool file cannot be read (${(err as NodeJS.ErrnoException).code ?? 'damaged'})`;
      await this.#apply(job, to.map((address) => ({ address, outcome: 'deferred', reply, status: '4.3.0' })), null, NO_SESSION, Buffer.alloc(0));
      return;
    }
    const route = parseRoute(job.route);
    let results: RecipientResult[];
    let remote: string | null = null;
    let session: SessionFacts = NO_SESSION;
    try {
      const plan = await this.o.transport.plan(route, job.requireTls);
      const trust = this.o.transport.trust();
      if (trust.problem) this.o.index.event(job.messageId, 'tls-trust', { problem: trust.problem });
      if (plan.stsNote) this.o.index.event(job.messageId, 'mta-sts', { note: plan.stsNote });
      const dests = this.#stsFilter(job, plan, await resolveDestinations(route, this.o.dns, settings['delivery.mxPort']));
      let lastFailure: ConnectionFailure | null = null;
      let sent: Awaited<ReturnType<SmtpClientPool['send']>> | null = null;
      if (!dests.length) {
        lastFailure = new ConnectionFailure(`no MX host of ${route.kind === 'mx' ? route.domain : '?'} is listed in its MTA-STS policy (mx: ${plan.sts?.mx.join(', ')}); not sent`, '4.7.5');
      }
      for (const dest of dests) {
        const host = `${dest.name}[${dest.address}]:${dest.port}`;
        try {
          sent = await this.o.pool.send(dest, { level: plan.level, verifyName: dest.name, login: plan.login, secureContext: trust.secureContext, source: plan.source }, { from: job.mailFrom, to }, message);
          if (plan.sts?.mode === 'testing' && !sent.tlsInfo?.verified) {
            // Testing mode reports what enforce would have refused, and delivers anyway.
            this.o.index.event(job.messageId, 'mta-sts', { mode: 'testing', policy: plan.sts.id, host, result: `would be refused in enforce mode: ${sent.tlsInfo ? `certificate not valid (${sent.tlsInfo.verifyError})` : 'no TLS'}` });
          }
          break;
        } catch (err) {
          if (!(err instanceof ConnectionFailure)) throw err;
          lastFailure = err;
          this.o.index.event(job.messageId, 'connect-failed', { host, error: err.message, tlsLevel: plan.level, tlsPolicy: plan.source });
        }
      }
      if (sent) {
        results = sent.recipients;
        remote = sent.remote;
        session = { tls: sent.tls, tlsInfo: sent.tlsInfo, level: plan.level, source: plan.source };
      } else {
        const reply = lastFailure?.message ?? 'no destination could be reached';
        results = to.map((address) => ({ address, outcome: 'deferred', reply, status: lastFailure?.status ?? '4.4.1' }));
        session = { ...NO_SESSION, level: plan.level, source: plan.source };
      }
    } catch (err) {
      const permanent = err instanceof DestinationError && err.permanent;
      const status = err instanceof DestinationError ? err.status : '4.3.0';
      const reply = (err as Error).message;
      results = to.map((address) => ({ address, outcome: permanent ? 'bounced' : 'deferred', reply, status }));
    }
    await this.#apply(job, results, remote, session, message);
  }

  /**
   * MTA-STS: in enforce mode only the MX hosts the policy lists are tried (the others are
   * noted in the trace); in testing mode all are, and the mismatch is only reported.
   */
  #stsFilter<D extends { name: string; address: string; port: number }>(job: DeliveryJob, plan: TransportPlan, dests: D[]): D[] {
    const sts = plan.sts;
    if (!sts) return dests;
    const out: D[] = [];
    for (const d of dests) {
      if (mxAllowed(d.name, sts)) {
        out.push(d);
        continue;
      }
      const host = `${d.name}[${d.address}]:${d.port}`;
      if (sts.mode === 'enforce') {
        this.o.index.event(job.messageId, 'mta-sts', { mode: 'enforce', policy: sts.id, host, result: `skipped: not listed in the policy (mx: ${sts.mx.join(', ')})` });
      } else {
        this.o.index.event(job.messageId, 'mta-sts', { mode: 'testing', policy: sts.id, host, result: `would be skipped in enforce mode: not listed (mx: ${sts.mx.join(', ')})` });
        out.push(d);
      }
    }
    return out;
  }

  async #apply(job: DeliveryJob, results: RecipientResult[], remote: string | null, session: SessionFacts, message: Buffer): Promise<void> {
    const now = Date.now();
    const policy = this.o.policy.cached().settings['delivery.retry'];
    const byIdx = new Map(job.rcpts.map((r) => [r.address, r.idx]));
    const delivered: number[] = [];
    const failed: Array<RecipientResult & { idx: number; expired: boolean }> = [];
    const deferred: Array<{ idx: number; result: RecipientResult; retryAt: number }> = [];
    const firstAttemptAt = job.firstAttemptAt ?? now;
    for (const r of results) {
      const idx = byIdx.get(r.address)!;
      const info = session.tlsInfo;
      // Every delivery's TLS in the trace: protocol, cipher, whether the certificate was
      // verified (and why not), and the level asked for with its reason.
      const detail = {
        reply: r.reply,
        status: r.status,
        remote,
        tls: session.tls,
        tlsVersion: info?.version ?? null,
        tlsCipher: info?.cipher ?? null,
        tlsVerified: info ? info.verified : null,
        tlsVerifyError: info?.verifyError ?? null,
        tlsLevel: session.level,
        tlsPolicy: session.source,
      };
      if (r.outcome === 'delivered') {
        delivered.push(idx);
        this.o.index.event(job.messageId, 'delivered', detail, r.address);
      } else if (r.outcome === 'bounced') {
        failed.push({ ...r, idx, expired: false });
        this.o.index.event(job.messageId, 'bounced', detail, r.address);
      } else {
        const next = nextAttempt(policy, { firstAttemptAt: new Date(firstAttemptAt), attempts: job.attempts + 1, now: new Date(now) });
        if ('expired' in next) {
          failed.push({ ...r, idx, expired: true, reply: `${r.reply} (gave up after the queue lifetime)` });
          this.o.index.event(job.messageId, 'expired', detail, r.address);
        } else {
          deferred.push({ idx, result: r, retryAt: next.retryAt.getTime() });
          this.o.index.event(job.messageId, 'deferred', { ...detail, retryAt: new Date(next.retryAt).toISOString() }, r.address);
        }
      }
    }
    const log = this.o.log.child({ queueId: job.messageId });
    const final = delivered.length + failed.length;
    const left = this.#pendingCount.get(job.messageId);
    const knownDone = left !== undefined && left - final <= 0;
    const deliveredReply = results.find((r) => r.outcome === 'delivered')?.reply ?? null;
    // One write for the whole attempt (and the message's end when we know it).
    const record = async (db: Db) => {
      const up = (idx: number[], set: Record<string, unknown>) =>
        db
          .updateTable('recipients')
          .set((eb) => ({ ...set, updated_at: now, attempts: eb('attempts', '+', 1), first_attempt_at: eb.fn.coalesce('first_attempt_at', eb.val(now)), lease_owner: null, lease_until: null }))
          .where('message_id', '=', job.messageId)
          .where('idx', 'in', idx)
          // Deleted from the queue while this attempt ran: it stays deleted.
          .where('status', 'in', ['queued', 'deferred'])
          // Only the lease holder records: a node whose lease ran out (it stalled) and was
          // taken over leaves the record to the node that took it.
          .where('lease_owner', '=', this.o.owner)
          .execute();
      if (delivered.length) await up(delivered, { status: 'delivered', last_reply: deliveredReply });
      for (const f of failed) await up([f.idx], { status: f.expired ? 'expired' : 'bounced', last_reply: f.reply });
      for (const d of deferred) await up([d.idx], { status: 'deferred', last_reply: d.result.reply, next_attempt_at: d.retryAt });
      if (knownDone) await db.updateTable('messages').set({ state: 'done', done_at: now }).where('id', '=', job.messageId).where('state', '=', 'queued').execute();
    };
    // A DSN and the recipients' final status commit together (see #bounce): a crash can
    // lose neither one alone, so a restart never decides, and sends, a second DSN.
    const recordedWithDsn = failed.length > 0 && (await this.#bounce(job, failed, remote, message, log, record));
    if (!recordedWithDsn) await this.o.index.op(record);
    if (left !== undefined) {
      if (knownDone) this.#pendingCount.delete(job.messageId);
      else this.#pendingCount.set(job.messageId, left - final);
    }
    log.info({ delivered: delivered.length, deferred: deferred.length, failed: failed.length, remote }, 'delivery attempt');
    if (deferred.length) await this.#warnDelayed(job, deferred, remote, message, log, now);
    if (knownDone) await this.o.spool.remove(job.file);
    else if (final && left === undefined) await this.#finishIfDone(job);
  }

  /** Queues the DSN with `record` in its commit; false when no DSN was queued (record not run). */
  async #bounce(
    job: DeliveryJob,
    failed: Array<RecipientResult & { expired: boolean }>,
    remote: string | null,
    message: Buffer,
    log: Logger,
    record: (db: Db) => Promise<void>,
  ): Promise<boolean> {
    // Never bounce a bounce, and never to the null sender: no loops, no backscatter.
    if (job.mailFrom === '' || job.direction === 'dsn') {
      this.o.index.event(job.messageId, 'dsn-suppressed', { reason: job.mailFrom === '' ? 'null sender' : 'message is itself a DSN' });
      return false;
    }
    try {
      const snapshot = this.o.policy.cached();
      const dsnId = await sendBounce({
        acceptor: this.o.acceptor,
        policy: snapshot,
        hostname: this.o.hostname,
        node: this.o.node,
        job,
        failed,
        remote,
        original: message,
        commitWith: record,
        sign: this.o.signDsn,
      });
      this.o.index.event(job.messageId, 'dsn', { dsnId, recipients: failed.map((f) => f.address) });
      return true;
    } catch (err) {
      log.error({ err }, 'could not queue the delivery status notification');
      this.o.index.event(job.messageId, 'dsn-failed', { error: (err as Error).message });
      return false;
    }
  }

  /**
   * delivery.retry.delayWarningSec: recipients deferred that long since the message
   * arrived (Postfix's delay_warning_time counts the same way) get one "delayed" DSN. It
   * commits with their delay_warned_at, so it is sent once, by whichever node or worker
   * defers them then; a failure to queue it is tried again at the next deferral.
   */
  async #warnDelayed(job: DeliveryJob, deferred: Array<{ idx: number; result: RecipientResult }>, remote: string | null, message: Buffer, log: Logger, now: number): Promise<void> {
    const policy = this.o.policy.cached().settings['delivery.retry'];
    if (policy.delayWarningSec === undefined || job.mailFrom === '' || job.direction === 'dsn') return;
    const warned = new Set(job.rcpts.filter((r) => r.warned).map((r) => r.idx));
    const due = deferred.filter((d) => delayWarningDue(policy, { firstAttemptAt: new Date(job.receivedAt), now: new Date(now), warned: warned.has(d.idx) }));
    if (!due.length) return;
    const idx = due.map((d) => d.idx);
    try {
      const dsnId = await sendDelayWarning({
        acceptor: this.o.acceptor,
        policy: this.o.policy.cached(),
        hostname: this.o.hostname,
        node: this.o.node,
        job,
        delayed: due.map((d) => d.result),
        willRetryUntil: new Date((job.firstAttemptAt ?? now) + policy.queueLifetimeSec * 1000),
        remote,
        original: message,
        sign: this.o.signDsn,
        commitWith: async (db) => {
          await db.updateTable('recipients').set({ delay_warned_at: now }).where('message_id', '=', job.messageId).where('idx', 'in', idx).execute();
        },
      });
      for (const r of job.rcpts) if (idx.includes(r.idx)) r.warned = true;
      this.o.index.event(job.messageId, 'dsn-delayed', { dsnId, recipients: due.map((d) => d.result.address), afterSec: policy.delayWarningSec });
    } catch (err) {
      log.error({ err }, 'could not queue the delay warning; trying again at the next deferral');
      this.o.index.event(job.messageId, 'dsn-failed', { action: 'delayed', error: (err as Error).message });
    }
  }

  /**
   * A failure the code did not foresee (a bug, a full disk under the index): the
   * recipients get a next attempt like any deferral, and if even that cannot be written
   * they are held here for the same time, so the poll neither strands them nor spins.
   */
  async #deferUnexpected(job: DeliveryJob, err: unknown): Promise<void> {
    const now = Date.now();
    const policy = this.o.policy.cached().settings['delivery.retry'];
    const next = nextAttempt(policy, { firstAttemptAt: new Date(job.firstAttemptAt ?? now), attempts: job.attempts + 1, now: new Date(now) });
    const retryAt = 'expired' in next ? now + policy.minimalBackoffSec * 1000 : next.retryAt.getTime();
    this.o.log.error({ err, queueId: job.messageId, retryAt: new Date(retryAt).toISOString() }, 'delivery failed unexpectedly; deferred');
    const idx = job.rcpts.map((r) => r.idx);
    try {
      await this.o.index.op(async (db) => {
        await db
          .updateTable('recipients')
          .set((eb) => ({ status: 'deferred', next_attempt_at: retryAt, updated_at: now, attempts: eb('attempts', '+', 1), last_reply: `local error: ${(err as Error)?.message ?? String(err)}`.slice(0, 500), lease_owner: null, lease_until: null }))
          .where('message_id', '=', job.messageId)
          .where('idx', 'in', idx)
          .where('status', 'in', ['queued', 'deferred'])
          .where('lease_owner', '=', this.o.owner)
          .execute();
      });
    } catch (writeErr) {
      this.o.log.error({ err: writeErr, queueId: job.messageId }, 'cannot record the deferral; holding the recipients in memory until their retry time');
      for (const i of idx) this.#heldUntil.set(`${job.messageId}:${i}`, retryAt);
    }
  }

  async #finishIfDone(job: DeliveryJob): Promise<void> {
    await this.o.index.flush();
    const pending = await this.o.db
      .selectFrom('recipients')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('message_id', '=', job.messageId)
      .where('status', 'in', ['queued', 'deferred'])
      .executeTakeFirst();
    if (Number(pending?.n ?? 0) > 0) return;
    const now = Date.now();
    await this.o.index.op(async (db) => {
      await db.updateTable('messages').set({ state: 'done', done_at: now }).where('id', '=', job.messageId).where('state', '=', 'queued').execute();
    });
    await this.o.spool.remove(job.file);
  }
}

/** What the session of an attempt had, for the trace. */
interface SessionFacts {
  tls: boolean;
  tlsInfo: TlsInfo | null;
  level: string | null;
  source: string | null;
}

const NO_SESSION: SessionFacts = { tls: false, tlsInfo: null, level: null, source: null };
