// The gateway purges the quarantine on a timer (one worker does it: worker 0), soon after
// start and then hourly, with the retention setting current at each run; each run first
// indexes again any held file whose index row was lost.
import type { Logger } from 'pino';
import type { QuarantineService } from './quarantine-service.ts';

export function startQuarantinePurge(o: {
  service: QuarantineService;
  retentionDays: () => number;
  log: Logger;
  intervalMs?: number;
}): { stop(): void } {
  let running = false;
  const run = async () => {
    if (running) return;
    running = true;
    try {
      const reindexed = await o.service.reindexOrphans();
      if (reindexed) o.log.warn({ reindexed }, 'quarantine files without index rows indexed again');
      const n = await o.service.purge(o.retentionDays());
      if (n) o.log.info({ purged: n, retentionDays: o.retentionDays() }, 'quarantine purged');
    } catch (err) {
      o.log.error({ err }, 'quarantine purge failed');
    } finally {
      running = false;
    }
  };
  const first = setTimeout(() => void run(), 30_000);
  const timer = setInterval(() => void run(), o.intervalMs ?? 3_600_000);
  first.unref();
  timer.unref();
  return {
    stop() {
      clearTimeout(first);
      clearInterval(timer);
    },
  };
}
