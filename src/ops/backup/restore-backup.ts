// `hermes restore`: a backup into a new (empty) data directory, ready to start with no
// manual step. Every file goes to its root's default place, and the bootstrap file's
// paths are reset to match; listeners, host name and the rest are kept as they were
// (change ports afterwards with "hermes init --data-dir ... --smtp-port ..."). Nothing is
// kept if the passphrase is wrong or a single byte of the file was changed: GCM's tag is
// checked before the restore reports success, and the directory is removed otherwise.
import { createReadStream } from 'node:fs';
import { chmod, mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, resolve, sep } from 'node:path';
import { defaultBootstrap, readBootstrap, writeConfig, type BootstrapConfig } from '../../config/bootstrap.ts';
import { openDatabase } from '../../db/database.ts';
import { markFinishedBeforeBackup, queuedSpoolFiles } from '../../db/repos/restore-reconcile.ts';
import { ByteReader, decodeHeader, decryptor, TAG_BYTES, type BackupEntry, type BackupRoot } from './backup-format.ts';

export interface RestoreReport {
  dataDir: string;
  files: number;
  bytes: number;
  createdAt: string;
  hermesVersion: string;
  schemaVersion: number;
  /** Queued in the snapshot, finished by the original gateway before the spool was copied. */
  finishedBeforeBackup: number;
}

/** Where each root lives in a restored data directory (the bootstrap defaults). */
const ROOT_DIRS: Record<BackupRoot, string> = { config: '', database: '', keys: 'keys', tls: 'tls', spool: 'spool', data: 'data', archive: 'archive' };

export async function restoreBackup(o: { file: string; dataDir: string; passphrase: string; progress?: (line: string) => void }): Promise<RestoreReport> {
  const say = o.progress ?? (() => {});
  const dataDir = resolve(o.dataDir);
  await assertEmptyDir(dataDir);
  const size = (await stat(o.file)).size;
  const fh = await open(o.file, 'r');
  let head: Buffer;
  let tag: Buffer;
  try {
    head = Buffer.alloc(Math.min(size, 4096));
    await fh.read(head, 0, head.length, 0);
    tag = Buffer.alloc(TAG_BYTES);
    await fh.read(tag, 0, TAG_BYTES, size - TAG_BYTES);
  } finally {
    await fh.close();
  }
  const { header, length } = decodeHeader(head);
  if (size < length + TAG_BYTES) throw new Error('the backup file is cut off');
  const decipher = decryptor(header, o.passphrase, tag); // throws at once on a wrong passphrase
  const reader = new ByteReader(createReadStream(o.file, { start: length, end: size - TAG_BYTES - 1 }).pipe(decipher));
  await mkdir(dataDir, { recursive: true, mode: 0o750 });
  try {
    let files = 0;
    let bytes = 0;
    let end: Extract<BackupEntry, { t: 'end' }> | null = null;
    while (!end) {
      const e = await reader.entry();
      if (e.t === 'end') {
        end = e;
        break;
      }
      const dest = safeJoin(dataDir, ROOT_DIRS[e.root], e.path);
      await mkdir(dirname(dest), { recursive: true, mode: 0o750 });
      const out = await open(dest, 'wx', e.mode & 0o777);
      try {
        let left = e.size;
        while (left > 0) {
          const chunk = await reader.readSome(Math.min(left, 1 << 20));
          await out.write(chunk);
          left -= chunk.length;
        }
        await out.sync();
      } finally {
        await out.close();
      }
      await chmod(dest, e.mode & 0o777);
      files++;
      bytes += e.size;
      if (files % 1000 === 0) say(`restored ${files} files`);
    }
    // The tag is checked when the stream ends: drain it so a wrong passphrase or a
    // changed byte fails here, before anything is reported restored.
    while ((await reader.readSome(1 << 16)).length) {
      /* nothing follows the end entry in a good backup */
    }
    if (files !== end.files) throw new Error(`the backup says ${end.files} files but holds ${files}`);
    await writeConfig(dataDir, withDefaultPaths(readBootstrap(dataDir)));
    const finished = await reconcileSpool(dataDir);
    say(`restored ${files} files (${(bytes / 1048576).toFixed(1)} MiB) from a backup of ${end.hostname} taken ${end.createdAt} into ${dataDir}`);
    if (finished) say(`${finished} messages were finished by the original gateway while the backup was taken: marked done`);
    return { dataDir, files, bytes, createdAt: end.createdAt, hermesVersion: end.hermesVersion, schemaVersion: end.schemaVersion, finishedBeforeBackup: finished };
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    const e = err as NodeJS.ErrnoException;
    // File-system trouble says what it is; anything else means the content is not what
    // was written (GCM's tag, or a frame that makes no sense).
    if (e.syscall) throw err;
    throw new Error(`the backup file is damaged or was changed (${e.message}): nothing restored`);
  }
}

/** Paths in the restored bootstrap point at the restored files. */
function withDefaultPaths(cfg: BootstrapConfig): BootstrapConfig {
  const d = defaultBootstrap(cfg.hostname);
  return { ...cfg, storage: d.storage, tls: d.tls, masterKeyFile: d.masterKeyFile };
}

async function reconcileSpool(dataDir: string): Promise<number> {
  const db = openDatabase(join(dataDir, defaultBootstrap('x').storage.database));
  try {
    const spool = join(dataDir, 'spool');
    const gone: string[] = [];
    for (const m of await queuedSpoolFiles(db)) {
      if (!(await stat(safeJoin(spool, '', m.spoolFile)).then(() => true, () => false))) gone.push(m.id);
    }
    if (gone.length) await markFinishedBeforeBackup(db, gone);
    return gone.length;
  } finally {
    await db.destroy();
  }
}

/** A path inside dir: a backup naming ../ or an absolute path is refused, not followed. */
function safeJoin(dir: string, sub: string, path: string): string {
  if (isAbsolute(path) || normalize(path).split(sep).includes('..')) throw new Error(`the backup names a path outside the data directory (${JSON.stringify(path)}): refused`);
  return join(dir, sub, path);
}

async function assertEmptyDir(dir: string): Promise<void> {
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  if (names.length) throw new Error(`${dir} is not empty: restore into a new data directory`);
}

