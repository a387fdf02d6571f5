// Coalesced directory fsyncs: a new spool file is durable only once its directory entry
// is, and many messages finishing together can share one fsync of their directory.
import { open, type FileHandle } from 'node:fs/promises';

interface DirState {
  running: Promise<void> | null;
  next: Promise<void> | null;
  /** Kept open: the spool has few directories and they are synced all the time. */
  handle: Promise<FileHandle> | null;
}

export class DirSync {
  readonly #dirs = new Map<string, DirState>();

  /** Resolves after an fsync of `dir` that started after this call. */
  sync(dir: string): Promise<void> {
    let st = this.#dirs.get(dir);
    if (!st) {
      st = { running: null, next: null, handle: null };
      this.#dirs.set(dir, st);
    }
    const state = st;
    if (!state.running) {
      state.running = this.#fsync(dir, state).finally(() => (state.running = null));
      return state.running;
    }
    // One is in flight and may have started before our file was linked: join the next.
    state.next ??= state.running
      .catch(() => {})
      .then(() => {
        state.next = null;
        state.running = this.#fsync(dir, state).finally(() => (state.running = null));
        return state.running;
      });
    return state.next;
  }

  async #fsync(dir: string, st: DirState): Promise<void> {
    st.handle ??= open(dir, 'r');
    try {
      await (await st.handle).sync();
    } catch (err) {
      st.handle = null; // reopen next time
      throw err;
    }
  }

  async close(): Promise<void> {
    for (const st of this.#dirs.values()) await (await st.handle?.catch(() => null))?.close();
    this.#dirs.clear();
  }
}
