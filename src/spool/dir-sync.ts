// Coalesced directory fsyncs: a new spool file is durable only once its directory entry
// is, and many messages finishing together can share one fsync of their directory.
import { open } from 'node:fs/promises';

interface DirState {
  running: Promise<void> | null;
  next: Promise<void> | null;
}

export class DirSync {
  readonly #dirs = new Map<string, DirState>();

  /** Resolves after an fsync of `dir` that started after this call. */
  sync(dir: string): Promise<void> {
    let st = this.#dirs.get(dir);
    if (!st) {
      st = { running: null, next: null };
      this.#dirs.set(dir, st);
    }
    if (!st.running) {
      st.running = fsyncDir(dir).finally(() => (st.running = null));
      return st.running;
    }
    // One is in flight and may have started before our file was linked: join the next.
    st.next ??= st.running.catch(() => {}).then(() => {
      st.next = null;
      st.running = fsyncDir(dir).finally(() => (st.running = null));
      return st.running;
    });
    return st.next;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
