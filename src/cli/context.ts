// Shared plumbing for CLI commands: where the data directory is, opening the database.
import type { Command } from 'commander';
import { loadConfig, type LoadedConfig } from '../config/bootstrap.ts';
import { openDatabase, type Db } from '../db/database.ts';
import { migrate } from '../db/migrate.ts';

export const DEFAULT_DATA_DIR = process.env.HERMES_DATA_DIR ?? './data';

export function withDataDir(cmd: Command): Command {
  return cmd.option('-d, --data-dir <dir>', 'gateway data directory (env HERMES_DATA_DIR)', DEFAULT_DATA_DIR);
}

/** Opens the configured database, runs pending migrations, and closes it after `fn`. */
export async function withDb<T>(dataDir: string, fn: (db: Db, cfg: LoadedConfig) => Promise<T>): Promise<T> {
  const cfg = loadConfig(dataDir);
  const db = openDatabase(cfg.storage.database);
  try {
    await migrate(db);
    return await fn(db, cfg);
  } finally {
    await db.destroy();
  }
}

/** Prints rows as an aligned text table. */
export function printTable(rows: Array<Record<string, unknown>>, columns: string[], empty = '(none)'): void {
  if (!rows.length) {
    console.log(empty);
    return;
  }
  const cell = (v: unknown) => (v === null || v === undefined ? '-' : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  console.log(columns.map((c, i) => c.toUpperCase().padEnd(widths[i]!)).join('  ').trimEnd());
  for (const r of rows) console.log(columns.map((c, i) => cell(r[c]).padEnd(widths[i]!)).join('  ').trimEnd());
}

export function fmtTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '-';
  return new Date(Number(ms)).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
