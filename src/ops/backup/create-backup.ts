// `hermes backup`: one encrypted file with everything a gateway needs to come back on
// another machine, taken while it runs. Order matters for consistency: the database
// snapshot first, then the spool. A message accepted after the snapshot is in the spool
// copy and is indexed again from its file at the restored gateway's first start (as after
// a crash); one finished after the snapshot has lost its spool file, and the restore
// marks it done (restore-reconcile.ts). Files that vanish while being copied (mail
// delivered, quarantine purged) are skipped, not errors.
import { createWriteStream, type WriteStream } from 'node:fs';
import { lstat, mkdtemp, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { tmpdir } from 'node:os';
import { once } from 'node:events';
import type { LoadedConfig } from '../../config/bootstrap.ts';
import { snapshotSqlite } from '../../db/snapshot.ts';
import { isPostgresLocation } from '../../db/location.ts';
import { encodeHeader, encryptor, frame, MIN_PASSPHRASE_LENGTH, newHeader, type BackupRoot } from './backup-format.ts';

export interface BackupReport {
  file: string;
  files: number;
  bytes: number;
  skipped: number;
  ms: number;
}

export interface BackupOptions {
  config: LoadedConfig;
  file: string;
  passphrase: string;
  hermesVersion: string;
  schemaVersion: number;
  /** Progress lines ("spool: 120 files, 1.2 MiB"). */
  progress?: (line: string) => void;
}

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

export async function createBackup(o: BackupOptions): Promise<BackupReport> {
  if (o.passphrase.length < MIN_PASSPHRASE_LENGTH) throw new Error(`the backup passphrase must have at least ${MIN_PASSPHRASE_LENGTH} characters`);
  if (isPostgresLocation(o.config.storage.database)) {
    throw new Error('this gateway keeps its database in PostgreSQL: back that up with pg_dump (docs/admin-guide.md, "Backup and restore"); hermes backup covers SQLite installs');
  }
  const started = Date.now();
  const say = o.progress ?? (() => {});
  const header = newHeader();
  const cipher = encryptor(header, o.passphrase); // before encodeHeader: it sets the check value
  const partial = `${o.file}.partial`;
  const out = createWriteStream(partial, { mode: 0o600 });
  const tmp = await mkdtemp(join(tmpdir(), 'hermes-backup-'));
  let files = 0;
  let bytes = 0;
  let skipped = 0;
  const write = async (buf: Buffer) => {
    if (!out.write(cipher.update(buf))) await once(out, 'drain');
  };
  const addFile = async (root: BackupRoot, path: string, abs: string): Promise<boolean> => {
    let body: Buffer;
    let mode: number;
    try {
      const st = await stat(abs);
      if (!st.isFile()) return false;
      mode = st.mode & 0o777;
      body = await readFile(abs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        skipped++;
        return false;
      }
      throw err;
    }
    await write(frame({ t: 'file', root, path, size: body.length, mode }));
    await write(body);
    files++;
    bytes += body.length;
    return true;
  };
  const addTree = async (root: BackupRoot, dir: string) => {
    let n = 0;
    let size = 0;
    for await (const abs of walk(dir)) {
      const before = bytes;
      if (await addFile(root, relative(dir, abs), abs)) {
        n++;
        size += bytes - before;
      }
    }
    say(`${root}: ${n} files, ${mib(size)}`);
  };
  try {
    out.write(encodeHeader(header));
    const snapshot = join(tmp, 'hermes.db');
    await snapshotSqlite(o.config.storage.database, snapshot);
    await addFile('database', 'hermes.db', snapshot);
    say(`database: snapshot of ${mib(bytes)}`);
    await addTree('spool', o.config.storage.spool);
    await addTree('data', o.config.storage.data);
    await addTree('archive', o.config.storage.archive);
    await addTree('keys', dirname(o.config.masterKeyFile));
    await addFile('tls', 'cert.pem', o.config.tls.cert);
    await addFile('tls', 'key.pem', o.config.tls.key);
    await addFile('config', 'hermes.json', o.config.configFile);
    const end = { t: 'end' as const, files, bytes, createdAt: new Date().toISOString(), hermesVersion: o.hermesVersion, schemaVersion: o.schemaVersion, hostname: o.config.hostname };
    await write(frame(end));
    const last = cipher.final();
    if (last.length) out.write(last);
    out.write(cipher.getAuthTag());
    await closeSynced(out, partial);
    await rename(partial, o.file);
  } catch (err) {
    out.destroy();
    await rm(partial, { force: true });
    throw err;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  const report = { file: o.file, files, bytes, skipped, ms: Date.now() - started };
  say(`done: ${files} files, ${mib(bytes)} in ${(report.ms / 1000).toFixed(1)} s${skipped ? ` (${skipped} vanished while copying: delivered or purged meanwhile)` : ''} -> ${o.file}`);
  return report;
}

/** The backup is only renamed into place once its bytes are on disk. */
async function closeSynced(out: WriteStream, path: string): Promise<void> {
  out.end();
  await once(out, 'finish');
  const fh = await open(path, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function* walk(dir: string): AsyncGenerator<string> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const name of names) {
    const abs = join(dir, name);
    let st;
    try {
      st = await lstat(abs);
    } catch {
      continue; // removed meanwhile
    }
    if (st.isDirectory()) yield* walk(abs);
    else if (st.isFile()) yield abs;
  }
}
