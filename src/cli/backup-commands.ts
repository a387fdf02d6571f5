// `hermes backup` and `hermes restore`. The passphrase comes from a file or the
// environment, never from the command line (it would show in ps and shell history).
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig } from '../config/bootstrap.ts';
import { openDatabase } from '../db/database.ts';
import { schemaVersion } from '../db/migrate.ts';
import { createBackup } from '../ops/backup/create-backup.ts';
import { restoreBackup } from '../ops/backup/restore-backup.ts';
import { hermesVersion } from '../ops/version.ts';
import { withDataDir } from './context.ts';

interface PassphraseOption {
  passphraseFile?: string;
}

function passphrase(o: PassphraseOption): string {
  if (o.passphraseFile) return readFileSync(o.passphraseFile, 'utf8').replace(/\r?\n$/, '');
  const env = process.env.HERMES_BACKUP_PASSPHRASE;
  if (env) return env;
  throw new Error('give the backup passphrase with --passphrase-file FILE or the HERMES_BACKUP_PASSPHRASE environment variable');
}

const progress = (line: string) => console.error(line);
const BACKUP_NAME = /^hermes-\d{8}-\d{6}\.hbk$/;

export function registerBackup(program: Command): void {
  withDataDir(
    program
      .command('backup [file]')
      .description('write an encrypted backup of the running gateway (database, spool, quarantine, archive, keys, certificates, configuration)')
      .option('--passphrase-file <file>', 'file holding the passphrase (or env HERMES_BACKUP_PASSPHRASE)')
      .option('--dir <dir>', 'write hermes-YYYYMMDD-HHMMSS.hbk into this directory instead of [file] (for a nightly timer)')
      .option('--keep <n>', 'with --dir: keep only the newest n backups there', (v) => Number(v)),
  ).action(async (file: string | undefined, o: PassphraseOption & { dataDir: string; dir?: string; keep?: number }) => {
    if (!file && !o.dir) throw new Error('say where: hermes backup FILE, or hermes backup --dir DIR [--keep N]');
    if (o.keep !== undefined && (!Number.isInteger(o.keep) || o.keep < 1)) throw new Error('--keep must be a whole number of at least 1');
    const config = loadConfig(o.dataDir);
    const db = openDatabase(config.storage.database);
    const schema = await schemaVersion(db).finally(() => db.destroy());
    let target = file;
    if (o.dir) {
      await mkdir(o.dir, { recursive: true, mode: 0o700 });
      target = join(o.dir, `hermes-${new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}.hbk`);
    }
    await createBackup({ config, file: target!, passphrase: passphrase(o), hermesVersion: hermesVersion(), schemaVersion: schema, progress });
    if (o.dir && o.keep) {
      const old = (await readdir(o.dir)).filter((n) => BACKUP_NAME.test(n)).sort().slice(0, -o.keep);
      for (const n of old) {
        await rm(join(o.dir, n));
        progress(`removed old backup ${n}`);
      }
    }
  });

  program
    .command('restore <file>')
    .description('restore a backup into a new, empty data directory (then "hermes start" there)')
    .requiredOption('-d, --data-dir <dir>', 'the new data directory (must be empty or not exist)')
    .option('--passphrase-file <file>', 'file holding the passphrase (or env HERMES_BACKUP_PASSPHRASE)')
    .action(async (file: string, o: PassphraseOption & { dataDir: string }) => {
      const r = await restoreBackup({ file, dataDir: o.dataDir, passphrase: passphrase(o), progress });
      if (r.hermesVersion !== hermesVersion()) progress(`note: the backup was made by Hermes ${r.hermesVersion}, this is ${hermesVersion()}; "hermes start" applies pending migrations`);
      console.log(`restored into ${r.dataDir}: start it with "hermes start --data-dir ${o.dataDir}" (change ports first with "hermes init --data-dir ${o.dataDir} --smtp-port N --http-port N" if the original still runs here)`);
    });
}
