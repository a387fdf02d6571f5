// An in-memory BayesStore: for tests, the benchmark, and as the reference behaviour
// for the database store.
import type { SpamClass } from './types.ts';
import type { BayesChange, BayesStore, BayesTotals, TokenCounts } from './bayes-store.ts';

interface Entry extends TokenCounts {
  atime: number;
}

export class MemoryBayesStore implements BayesStore {
  private readonly tokens = new Map<string, Entry>();
  private readonly digests = new Map<string, SpamClass>();
  private readonly messages: BayesTotals = { spam: 0, ham: 0 };

  async totals(): Promise<BayesTotals> {
    return { ...this.messages };
  }

  async counts(tokens: readonly string[], touch?: Date): Promise<Map<string, TokenCounts>> {
    const out = new Map<string, TokenCounts>();
    const t = touch?.getTime();
    for (const tok of tokens) {
      const e = this.tokens.get(tok);
      if (!e) continue;
      out.set(tok, { spam: e.spam, ham: e.ham });
      if (t !== undefined && t > e.atime) e.atime = t;
    }
    return out;
  }

  async learned(digest: string): Promise<SpamClass | null> {
    return this.digests.get(digest) ?? null;
  }

  async apply(changes: readonly BayesChange[]): Promise<void> {
    // Check first so that a bad change leaves the store untouched (all or none).
    for (const c of changes) {
      if (c.delta !== 1 && c.delta !== -1) throw new Error(`invalid Bayes change delta ${String(c.delta)}`);
      if (c.cls !== 'spam' && c.cls !== 'ham') throw new Error(`invalid Bayes class ${String(c.cls)}`);
    }
    for (const c of changes) {
      const at = c.at.getTime();
      if (c.delta === 1) {
        for (const tok of c.tokens) {
          const e = this.tokens.get(tok);
          if (e) {
            e[c.cls]++;
            if (at > e.atime) e.atime = at;
          } else {
            this.tokens.set(tok, { spam: c.cls === 'spam' ? 1 : 0, ham: c.cls === 'ham' ? 1 : 0, atime: at });
          }
        }
        this.messages[c.cls]++;
        this.digests.set(c.digest, c.cls);
      } else {
        for (const tok of c.tokens) {
          const e = this.tokens.get(tok);
          if (!e) continue;
          e[c.cls] = Math.max(0, e[c.cls] - 1);
          if (e.spam === 0 && e.ham === 0) this.tokens.delete(tok);
        }
        this.messages[c.cls] = Math.max(0, this.messages[c.cls] - 1);
        this.digests.delete(c.digest);
      }
    }
  }

  async tokenCount(): Promise<number> {
    return this.tokens.size;
  }

  async clear(): Promise<void> {
    this.tokens.clear();
    this.digests.clear();
    this.messages.spam = 0;
    this.messages.ham = 0;
  }

  async expire(before: Date): Promise<number> {
    const t = before.getTime();
    let n = 0;
    for (const [tok, e] of this.tokens) {
      if (e.atime < t) {
        this.tokens.delete(tok);
        n++;
      }
    }
    return n;
  }
}
