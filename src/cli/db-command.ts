// hermes db copy --to URL: copies this install's SQLite database (configuration,
// quarantine index, trace, Bayes, accounts, keys, queue with its messages' bytes) into a
// new database, normally the PostgreSQL several nodes will share. Stop the gateway first
// (or accept that mail arriving during the copy stays behind in the old database).
import type { Command } from 'commander';
import { loadConfig, messagesInDatabase } from '../config/bootstrap.ts';
import { openDatabase, redactDatabaseLocation } from '../db/database.ts';
import { copyDatabase } from '../db/copy.ts';
import { Spool } from '../spool/spool-file.ts';
import { withDataDir } from './context.ts';

export function registerDb(program: Command): void {
  const db = program.command('db').description('database tools');
  withDataDir(
    db
      .command('copy')
      .description('copy this install\'s SQLite database into a new, empty database (e.g. PostgreSQL for several nodes)')
      .requiredOption('--to <url>', 'target: postgres://user:password@host/db (or a SQLite path)')
      .option('--messages <where>', 'where the target keeps queued messages: database (default for PostgreSQL) or spool'),
  ).action(async (o: { dataDir: string; to: string; messages?: 'database' | 'spool' }) => {
    const cfg = loadConfig(o.dataDir);
    const from = openDatabase(cfg.storage.database);
    const to = openDatabase(o.to);
    const spool = new Spool(cfg.storage.spool);
    const inDb = messagesInDatabase({ storage: { ...cfg.storage, database: o.to, ...(o.messages ? { messages: o.messages } : {}) } });
    console.log(`copying ${redactDatabaseLocation(cfg.storage.database)} -> ${redactDatabaseLocation(o.to)} (queued messages ${inDb ? 'into the database' : 'stay in the spool'})`);
    const t0 = Date.now();
    let last = '';
    try {
      const r = await copyDatabase(from, to, {
        messagesInTarget: inDb,
        readSpoolFile: (file) => readWhole(spool, file),
        progress: (p) => {
          const line = `  ${p.table.padEnd(28)} ${String(p.copied).padStart(9)} / ${p.total}`;
          if (p.copied === p.total || p.copied % 10_000 === 0) {
            if (line !== last) console.log(line);
            last = line;
          }
        },
      });
      console.log(`done: ${r.rows} rows in ${r.tables} tables, ${r.messages} queued messages' bytes, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      console.log(`next: set "storage.database" in ${cfg.configFile} to the new database${inDb ? ' (storage.messages defaults to "database" there)' : ''}, then start the gateway`);
    } finally {
      await from.destroy();
      await to.destroy();
    }
  });
}

/** The spool file as stored (header, envelope, message): the database spool keeps the same bytes. */
async function readWhole(spool: Spool, file: string): Promise<Buffer> {
  const { readFile } = await import('node:fs/promises');
  return readFile(spool.path(file));
}
