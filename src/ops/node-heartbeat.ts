// Each gateway process records itself in cluster_nodes every few seconds: name, host,
// pid, version, start time, heartbeat and the leases it holds, for `hermes status`. A
// heartbeat that cannot be written (the database is down) is logged and tried again.
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Db } from '../db/database.ts';
import { countOwnLeases, forgetSilentNodes, recordHeartbeat } from '../db/repos/cluster-nodes.ts';

export const HEARTBEAT_INTERVAL_MS = 5000;
/** Nodes silent this long are dropped from the list (a week: long enough to notice one). */
const FORGET_AFTER_MS = 7 * 86400_000;

export function startNodeHeartbeat(o: { db: Db; name: string; version: string; log: Logger; intervalMs?: number }): { stop(): void; beat(): Promise<void> } {
  const startedAt = Date.now();
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  const beat = async () => {
    const leases = await countOwnLeases(o.db, o.name);
    await recordHeartbeat(o.db, { name: o.name, hostname: hostname(), pid: process.pid, version: o.version, started_at: startedAt, heartbeat_at: Date.now(), leases });
  };
  const loop = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      beat()
        .then(() => forgetSilentNodes(o.db, FORGET_AFTER_MS))
        .catch((err: unknown) => o.log.warn({ err }, 'could not record the node heartbeat'))
        .finally(loop);
    }, o.intervalMs ?? HEARTBEAT_INTERVAL_MS);
    timer.unref();
  };
  loop();
  return {
    beat,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
