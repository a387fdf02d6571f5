// Several gateway processes share the SMTP listener (node:cluster), so both cores of a
// small machine accept, filter and deliver mail. The primary only migrates the database,
// forks the workers, keeps the per-client connection counts they share, restarts one
// that dies (with backoff, forever: the primary never ends on its own with status 0),
// and passes a stop on to all of them.
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import type { LoadedConfig } from './config/bootstrap.ts';
import { openDatabase } from './db/database.ts';
import { migrate } from './db/migrate.ts';
import { Gateway } from './gateway.ts';
import { serveClusterMetrics } from './ops/metrics/cluster-metrics.ts';
import { serveClientLimits } from './smtp/client-limits.ts';

export function workerCount(config: LoadedConfig, override?: number): number {
  const n = override ?? config.workers;
  return n > 0 ? n : Math.min(availableParallelism(), 8);
}

export interface RunOptions {
  config: LoadedConfig;
  log: Logger;
  workers: number;
  stopTimeoutMs: number;
}

/** Runs the gateway until SIGTERM/SIGINT: in this process for one worker, else as a cluster. */
export async function runGateway(o: RunOptions): Promise<void> {
  if (o.workers <= 1) return runWorker(o, 0);
  if (cluster.isPrimary) return runPrimary(o);
  return runWorker(o, Number(process.env.HERMES_NODE ?? 0));
}

async function runPrimary(o: RunOptions): Promise<void> {
  // Workers accept connections themselves: round-robin hand-over through the primary
  // costs an IPC message per SMTP connection, and mail is one connection per message.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  const db = openDatabase(o.config.storage.database);
  await migrate(db);
  await db.destroy();
  const workers = new Map<number, Worker>();
  const restarts = new Map<number, { count: number; startedAt: number }>();
  let stopping = false;
  const fork = (node: number) => {
    const prev = restarts.get(node);
    restarts.set(node, { count: prev?.count ?? 0, startedAt: Date.now() });
    const w = cluster.fork({ HERMES_NODE: String(node), HERMES_WORKERS: String(o.workers) });
    workers.set(node, w);
    w.on('exit', (code, signal) => {
      if (workers.get(node) === w) workers.delete(node);
      if (stopping) {
        if (workers.size === 0) {
          o.log.info('all workers stopped; the spool is kept and resumes at the next start');
          process.exit(0);
        }
        return;
      }
      const delayMs = restartDelayMs(restarts, node);
      o.log.error({ node, code, signal, restartInMs: delayMs }, 'worker died; restarting it (its spool is recovered on start)');
      // Not unref'd: with every worker dead this timer is what keeps the primary alive
      // (an unref'd one let it exit 0, which a service manager takes as a clean stop).
      setTimeout(() => {
        if (!stopping) fork(node);
      }, delayMs);
    });
  };
  serveClusterMetrics();
  // One set of per-client counters for every worker's MX listener (smtp/client-limits.ts).
  serveClientLimits();
  for (let i = 0; i < o.workers; i++) fork(i);
  o.log.info({ workers: o.workers }, 'gateway workers started');
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    o.log.info({ signal }, 'stopping workers');
    for (const w of workers.values()) w.process.kill('SIGTERM');
    if (workers.size === 0) process.exit(0);
    setTimeout(() => {
      for (const w of workers.values()) w.process.kill('SIGKILL');
    }, o.stopTimeoutMs + 5000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** 1 s after a worker that ran a while; doubling (to 30 s) while it keeps dying young. */
export function restartDelayMs(restarts: Map<number, { count: number; startedAt: number }>, node: number, now = Date.now()): number {
  const r = restarts.get(node) ?? { count: 0, startedAt: now };
  const count = now - r.startedAt > 60_000 ? 0 : r.count + 1;
  restarts.set(node, { count, startedAt: r.startedAt });
  return Math.min(30_000, 1000 * 2 ** Math.max(0, count - 1));
}

async function runWorker(o: RunOptions, node: number): Promise<void> {
  const log = node === 0 && o.workers <= 1 ? o.log : o.log.child({ node });
  const gw = await Gateway.open({ config: o.config, log, node, workers: o.workers });
  await gw.start();
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: no new sessions, finishing those under way');
    gw.stop(o.stopTimeoutMs).then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // The primary was killed outright: go down with it; what was acknowledged is in the
  // spool and the next start resumes it.
  if (cluster.isWorker) process.on('disconnect', () => {
    if (!stopping) process.exit(1);
  });
}
