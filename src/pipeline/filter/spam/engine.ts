// The built-in spam engine: runs every check on one shared ScanContext, then the Bayes
// classifier when there is one, and sums the symbols. Policies (tag at 2, quarantine
// at 5, reject at 15 by default) turn the score into actions elsewhere.
import type { SpamCheck, SpamClass, SpamInput, SpamResult, SpamSymbol, SpamCheckError } from './types.ts';
import { ScanContext } from './context.ts';
import { defaultChecks } from './checks/index.ts';
import type { Bayes, LearnOutcome } from './bayes.ts';

export interface SpamEngineOptions {
  /** The rule checks; default: all built-in ones (defaultChecks()). */
  checks?: SpamCheck[];
  /** The Bayes classifier; without one, no BAYES_* symbols. */
  bayes?: Bayes;
  /** Score overrides by symbol name (an admin's local weights); 0 keeps the symbol but scores nothing. */
  scores?: Readonly<Record<string, number>>;
}

export class SpamEngine {
  readonly checks: readonly SpamCheck[];
  readonly bayes: Bayes | undefined;
  private readonly scores: Readonly<Record<string, number>>;

  constructor(opts: SpamEngineOptions = {}) {
    this.checks = opts.checks ?? defaultChecks();
    this.bayes = opts.bayes;
    this.scores = opts.scores ?? {};
  }

  async scan(input: SpamInput): Promise<SpamResult> {
    const ctx = new ScanContext(input);
    const symbols: SpamSymbol[] = [];
    const errors: SpamCheckError[] = [];
    const all: SpamCheck[] = this.bayes ? [...this.checks, this.bayes.asCheck()] : [...this.checks];
    const checkMs: Record<string, number> = {};
    for (const check of all) {
      const t0 = performance.now();
      try {
        const r = check.run(input, ctx);
        const list = r instanceof Promise ? await r : r;
        for (const s of list) symbols.push(s);
      } catch (err) {
        errors.push({ check: check.name, error: err instanceof Error ? err.message : String(err) });
      }
      checkMs[check.name] = (checkMs[check.name] ?? 0) + performance.now() - t0;
    }
    let total = 0;
    for (const s of symbols) {
      const override = this.scores[s.name];
      if (override !== undefined) s.score = override;
      total += s.score;
    }
    return { score: Math.round(total * 100) / 100, symbols, errors, checkMs };
  }

  /** Learns a message as spam or ham (needs a Bayes classifier). */
  async learn(input: SpamInput, cls: SpamClass): Promise<LearnOutcome> {
    if (!this.bayes) throw new Error('spam engine has no Bayes classifier to learn with');
    return this.bayes.learn(input, cls);
  }

  /** Forgets a message learned earlier; false when it was never learned. */
  async forget(input: SpamInput): Promise<boolean> {
    if (!this.bayes) throw new Error('spam engine has no Bayes classifier');
    return this.bayes.forget(input);
  }
}
