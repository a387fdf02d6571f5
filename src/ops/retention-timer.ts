// The gateway purges old message traces on a timer (worker 0 only), soon after start and
// then hourly, with the retention setting current at each run. Together with the
// quarantine purge this bounds the database: it holds at most the retention window of
// traffic, and SQLite reuses the pages freed by each purge for new rows. Stale rate-limit
// counters go in the same run. Nodes sharing a database take turns (job lock 'trace-retention').
import type { Logger } from 'pino';
import type { Db } from '../db/database.ts';
import { purgeFinishedTraces } from '../db/repos/trace-retention.ts';
import { removeStaleRateLimits } from '../db/repos/rate-limits.ts';
import { withJobLock } from '../notify/job-lock.ts';

export function startTraceRetention(o: {
  db: Db;
  retentionDays: () => number;
  log: Logger;
  /** This node's name, holding the job lock while it purges. */
  holder?: string;
  intervalMs?: number;
  firstRunMs?: number;
  now?: () => number;
}): { stop(): void; runNow(): Promise<void> } {
  let running: Promise<void> | null = null;
  const run = () => {
    running ??= (async () => {
      try {
        await withJobLock(o.db, 'trace-retention', o.holder ?? 'gateway', async () => {
          const days = o.retentionDays();
          const r = await purgeFinishedTraces(o.db, (o.now ?? Date.now)() - days * 86_400_000);
          if (r.messages) o.log.info({ purged: r.messages, retentionDays: days }, 'message traces purged');
          // Rate-limit windows are an hour at most; a day-old counter counts nothing.
          await removeStaleRateLimits(o.db, (o.now ?? Date.now)() - 86_400_000);
        });
      } catch (err) {
        o.log.error({ err }, 'trace retention purge failed');
      } finally {
        running = null;
      }
    })();
    return running;
  };
  const first = setTimeout(() => void run(), o.firstRunMs ?? 45_000);
  const timer = setInterval(() => void run(), o.intervalMs ?? 3_600_000);
  first.unref();
  timer.unref();
  return {
    stop() {
      clearTimeout(first);
      clearInterval(timer);
    },
    runNow: run,
  };
}
