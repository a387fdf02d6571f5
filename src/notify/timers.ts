// The notification jobs on timers, in one gateway worker (worker 0; the job_runs lock
// also keeps two gateways sharing a database from running one job twice): digests every
// 5 minutes (each recipient only when due), held-message notices every 20 seconds,
// admin checks every 5 minutes. A run that fails is logged and tried at the next tick.
import type { NotifyContext } from './context.ts';
import { runAdminChecks } from './admin-checks.ts';
import { runDigests } from './digest-job.ts';
import { runHeldNotices } from './held-notices.ts';

export function startNotificationTimers(c: NotifyContext, o: { digestMs?: number; noticeMs?: number; adminMs?: number } = {}): { stop(): void } {
  const timers: NodeJS.Timeout[] = [];
  const every = (name: string, ms: number, job: () => Promise<unknown>) => {
    let running = false;
    const t = setInterval(() => {
      if (running) return;
      running = true;
      job()
        .catch((err: unknown) => c.log.error({ err, job: name }, 'notification job failed'))
        .finally(() => (running = false));
    }, ms);
    t.unref();
    timers.push(t);
  };
  every('digest', o.digestMs ?? 5 * 60_000, async () => {
    const r = await runDigests(c);
    if (r.ran && r.result.digestsSent) c.log.info(r.result, 'quarantine digests sent');
  });
  every('held-notices', o.noticeMs ?? 20_000, () => runHeldNotices(c));
  every('admin-checks', o.adminMs ?? 5 * 60_000, async () => {
    const r = await runAdminChecks(c);
    if (r.ran && r.result.sent.length) c.log.warn({ sent: r.result.sent }, 'admin notifications sent');
  });
  return { stop: () => timers.forEach(clearInterval) };
}
