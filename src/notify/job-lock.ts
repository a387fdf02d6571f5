// Runs a periodic job on one node at a time (a row in job_runs is the lock), whichever
// process starts it: a gateway worker's timer or `hermes digest run`.
import type { Db } from '../db/database.ts';
import { acquireJobLock, extendJobLock, releaseJobLock, setJobWatermark } from '../db/repos/job-runs.ts';
import type { JobRunRow } from '../db/schema.ts';

export interface JobHandle {
  row: JobRunRow;
  /** Call now and then in a long run: keeps the lock. */
  keepAlive(): Promise<void>;
  setWatermark(v: number): Promise<void>;
}

export type JobOutcome<T> = { ran: true; result: T } | { ran: false; heldBy: string | null };

const TTL_MS = 5 * 60_000;

export async function withJobLock<T>(db: Db, name: string, holder: string, fn: (job: JobHandle) => Promise<T>): Promise<JobOutcome<T>> {
  const row = await acquireJobLock(db, name, holder, TTL_MS);
  if (!row) {
    const other = await db.selectFrom('job_runs').select('locked_by').where('name', '=', name).executeTakeFirst();
    return { ran: false, heldBy: other?.locked_by ?? null };
  }
  let last = Date.now();
  const handle: JobHandle = {
    row,
    async keepAlive() {
      if (Date.now() - last < 30_000) return;
      last = Date.now();
      await extendJobLock(db, name, holder, TTL_MS);
    },
    setWatermark: (v) => setJobWatermark(db, name, holder, v),
  };
  try {
    const result = await fn(handle);
    await releaseJobLock(db, name, holder, result);
    return { ran: true, result };
  } catch (err) {
    await releaseJobLock(db, name, holder, { error: (err as Error).message }).catch(() => {});
    throw err;
  }
}
