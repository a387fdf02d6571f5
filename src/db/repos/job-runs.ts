// Periodic jobs (digests, notices, admin checks) run on one node at a time: a row per job
// holds the lock (who, until when) and the job's watermark. Taking the lock is one
// conditional UPDATE, atomic on SQLite and PostgreSQL alike.
import type { Db } from '../database.ts';
import type { JobRunRow } from '../schema.ts';

/** Takes the lock of `name` for `ttlMs`; the row (with its watermark) when taken, null when someone else holds it. */
export async function acquireJobLock(db: Db, name: string, holder: string, ttlMs: number, now = Date.now()): Promise<JobRunRow | null> {
  await db.insertInto('job_runs').values({ name, locked_by: null, locked_until: 0, last_started_at: null, last_finished_at: null, watermark: null, last_result: null }).onConflict((oc) => oc.column('name').doNothing()).execute();
  const r = await db
    .updateTable('job_runs')
    .set({ locked_by: holder, locked_until: now + ttlMs, last_started_at: now })
    .where('name', '=', name)
    .where((eb) => eb.or([eb('locked_until', '<=', now), eb('locked_by', '=', holder)]))
    .executeTakeFirst();
  if (Number(r.numUpdatedRows) !== 1) return null;
  return (await db.selectFrom('job_runs').selectAll().where('name', '=', name).executeTakeFirst()) ?? null;
}

/** Keeps the lock while a long run goes on. */
export async function extendJobLock(db: Db, name: string, holder: string, ttlMs: number): Promise<void> {
  await db.updateTable('job_runs').set({ locked_until: Date.now() + ttlMs }).where('name', '=', name).where('locked_by', '=', holder).execute();
}

export async function setJobWatermark(db: Db, name: string, holder: string, watermark: number): Promise<void> {
  await db.updateTable('job_runs').set({ watermark }).where('name', '=', name).where('locked_by', '=', holder).execute();
}

export async function releaseJobLock(db: Db, name: string, holder: string, result: unknown): Promise<void> {
  await db
    .updateTable('job_runs')
    .set({ locked_by: null, locked_until: 0, last_finished_at: Date.now(), last_result: JSON.stringify(result) })
    .where('name', '=', name)
    .where('locked_by', '=', holder)
    .execute();
}

export async function getJobRun(db: Db, name: string): Promise<JobRunRow | undefined> {
  return db.selectFrom('job_runs').selectAll().where('name', '=', name).executeTakeFirst();
}
