// The free-space reserve on the spool's filesystem. Below it, new mail is refused with
// 452 4.3.1 (as Postfix's queue_minfree does) while there is still room: the reserve is
// what mail already accepted needs for its index updates, DSNs and delivery records.
import { statfs } from 'node:fs/promises';
import type { Logger } from 'pino';

/** An SMTP reply the session sends as is (smtp-server reads responseCode). */
export class InsufficientStorage extends Error {
  readonly responseCode = 452;
  constructor() {
    super('4.3.1 Insufficient system storage, try again later');
  }
}

/** Errors that mean the disk (or the database on it) is full. */
export function isStorageFull(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : '';
  return err instanceof InsufficientStorage || code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL' || /ENOSPC|database or disk is full/i.test(message);
}

/** statfs is cheap but not free: one look per this many ms serves every session. */
const CACHE_MS = 500;
const MIN_FREE_BYTES = 1024 * 1024;

export class SpoolSpace {
  #checkedAt = 0;
  #freeBytes = Number.POSITIVE_INFINITY;
  #low = false;

  constructor(
    private readonly dir: string,
    private readonly reserveBytes: () => number,
    private readonly log: Logger,
  ) {}

  /** Throws InsufficientStorage when taking `incomingBytes` would go below the reserve. */
  async ensure(incomingBytes: number): Promise<void> {
    const free = await this.freeBytes();
    const reserve = this.reserveBytes();
    // With no reserve configured, the last MiB still stays for the index's own writes.
    const low = free - incomingBytes < Math.max(reserve, MIN_FREE_BYTES);
    if (low !== this.#low) {
      this.#low = low;
      // The admin's notice, once per change rather than once per refused message.
      if (low) this.log.warn({ dir: this.dir, freeBytes: free, reserveBytes: reserve }, 'spool filesystem below its free-space reserve: new mail gets 452 4.3.1 until space returns');
      else this.log.info({ dir: this.dir, freeBytes: free, reserveBytes: reserve }, 'spool filesystem has space again: accepting mail');
    }
    if (low) throw new InsufficientStorage();
  }

  /** True when the last look found the filesystem below its reserve. */
  get low(): boolean {
    return this.#low;
  }

  async freeBytes(): Promise<number> {
    const now = Date.now();
    if (now - this.#checkedAt >= CACHE_MS) {
      this.#checkedAt = now;
      try {
        const s = await statfs(this.dir);
        this.#freeBytes = s.bavail * s.bsize;
      } catch (err) {
        this.log.warn({ err, dir: this.dir }, 'cannot read the spool filesystem free space');
      }
    }
    return this.#freeBytes;
  }
}
