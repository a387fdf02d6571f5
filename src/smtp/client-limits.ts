// Where the MX listener's per-client counts live. In a cluster every worker accepts
// connections itself (SCHED_NONE), so counts kept in each worker would let a client have
// its limit once per worker, and a client's sequential sessions land on any worker. The
// primary holds the one ClientCounters and workers ask it over the cluster IPC channel
// (a round trip of well under a millisecond, once per connection and per MAIL). With one
// process the counters are simply local.
import cluster from 'node:cluster';
import type { Logger } from 'pino';
import { ClientCounters, type ConnectLimits, type LimitVerdict } from './client-counters.ts';

const REQUEST = 'hermes:client-limits';
const ANSWER = 'hermes:client-limits-answer';

type Request =
  | { type: typeof REQUEST; id: number; op: 'connect'; conn: string; key: string; limits: ConnectLimits }
  | { type: typeof REQUEST; id: number; op: 'message'; key: string; perHour: number }
  | { type: typeof REQUEST; id: 0; op: 'disconnect'; conn: string };

interface Answer {
  type: typeof ANSWER;
  id: number;
  verdict: LimitVerdict;
}

export interface ClientLimiter {
  connect(conn: string, key: string, limits: ConnectLimits): Promise<LimitVerdict>;
  disconnect(conn: string): void;
  message(key: string, perHour: number): Promise<LimitVerdict>;
}

/** The counters of this process (a gateway of one worker). */
export class LocalClientLimiter implements ClientLimiter {
  constructor(readonly counters = new ClientCounters()) {}
  connect(conn: string, key: string, limits: ConnectLimits): Promise<LimitVerdict> {
    return Promise.resolve(this.counters.connect('self', conn, key, limits));
  }
  disconnect(conn: string): void {
    this.counters.disconnect('self', conn);
  }
  message(key: string, perHour: number): Promise<LimitVerdict> {
    return Promise.resolve(this.counters.message(key, perHour));
  }
}

/**
 * A worker's view: every question goes to the primary. A primary that does not answer
 * in time (it is busy restarting a worker, say) lets the client through: a limit is a
 * defence against floods, and refusing all mail because the counter is slow would be
 * the flood's success.
 */
export class ClusterClientLimiter implements ClientLimiter {
  #next = 1;
  readonly #pending = new Map<number, { resolve: (v: LimitVerdict) => void; timer: NodeJS.Timeout }>();
  #lastWarning = 0;

  constructor(private readonly log: Logger, private readonly timeoutMs = 2000) {
    process.on('message', (msg: Answer) => {
      if (msg?.type !== ANSWER) return;
      const p = this.#pending.get(msg.id);
      if (!p) return;
      this.#pending.delete(msg.id);
      clearTimeout(p.timer);
      p.resolve(msg.verdict);
    });
  }

  connect(conn: string, key: string, limits: ConnectLimits): Promise<LimitVerdict> {
    return this.#ask({ type: REQUEST, id: this.#next++, op: 'connect', conn, key, limits });
  }

  disconnect(conn: string): void {
    this.#send({ type: REQUEST, id: 0, op: 'disconnect', conn });
  }

  message(key: string, perHour: number): Promise<LimitVerdict> {
    return this.#ask({ type: REQUEST, id: this.#next++, op: 'message', key, perHour });
  }

  #ask(req: Request & { id: number }): Promise<LimitVerdict> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(req.id);
        const now = Date.now();
        if (now - this.#lastWarning > 60_000) {
          this.#lastWarning = now;
          this.log.warn({ timeoutMs: this.timeoutMs }, 'the primary did not answer a client-limit check in time; letting the client through');
        }
        resolve({ ok: true });
      }, this.timeoutMs);
      timer.unref();
      this.#pending.set(req.id, { resolve, timer });
      this.#send(req);
    });
  }

  #send(req: Request): void {
    try {
      process.send?.(req);
    } catch {
      // The channel is closing (the primary is gone; this worker exits on 'disconnect').
    }
  }
}

/** In the primary: answers the workers' questions from one set of counters. */
export function serveClientLimits(counters = new ClientCounters()): ClientCounters {
  cluster.on('message', (worker, msg: Request) => {
    if (msg?.type !== REQUEST) return;
    const owner = String(worker.id);
    if (msg.op === 'disconnect') return counters.disconnect(owner, msg.conn);
    const verdict = msg.op === 'connect' ? counters.connect(owner, msg.conn, msg.key, msg.limits) : counters.message(msg.key, msg.perHour);
    try {
      worker.send({ type: ANSWER, id: msg.id, verdict } satisfies Answer);
    } catch {
      // The worker is going away; its connections are dropped on 'exit' below.
    }
  });
  cluster.on('exit', (worker) => counters.dropOwner(String(worker.id)));
  return counters;
}

/** The limiter for this process: the primary's counters in a cluster worker, else local ones. */
export function clientLimiter(log: Logger): ClientLimiter {
  return cluster.isWorker && process.send ? new ClusterClientLimiter(log) : new LocalClientLimiter();
}
