// Autolearn: mail the rules alone (Bayes symbols left out, as SpamAssassin does, so
// the classifier does not teach itself its own mistakes) find clearly spam or clearly
// ham is learned, after the SMTP reply, one message at a time and at most one a second
// per process (a learned message is a database write; under load the index writer
// needs the write lock more). Messages beyond that are skipped rather than queued:
// autolearn keeps the classifier fresh, it is not a record of every message.
import type { MessageContext } from '../context.ts';
import type { Bayes, SpamClass, SpamInput, SpamResult } from './spam/index.ts';

export interface AutolearnThresholds {
  /** Learn as spam at or above this rules-only score. */
  spamAt: number;
  /** Learn as ham at or below this rules-only score. */
  hamAt: number;
}

/**
 * The class to learn a scanned message as, or null: the rules-only score decides. The
 * SpamAssassin rules count with their scores of the set without Bayes (learnScore), so
 * the same message is judged alike before and after Bayes starts scoring, and from the
 * first day (no Bayes yet) the stock rule set's weight reaches the spam threshold.
 */
export function autolearnClass(r: SpamResult, t: AutolearnThresholds): SpamClass | null {
  let rules = 0;
  for (const s of r.symbols) if (!s.name.startsWith('BAYES_')) rules += s.learnScore ?? s.score;
  if (rules >= t.spamAt) return 'spam';
  if (rules <= t.hamAt) return 'ham';
  return null;
}

export class Autolearner {
  #pending = 0;
  #chain: Promise<void> = Promise.resolve();
  learned = 0;
  skipped = 0;

  #lastAt = -Infinity;

  constructor(
    private readonly maxPending = 20,
    private readonly minIntervalMs = 1000,
  ) {}

  consider(bayes: Bayes, input: SpamInput, r: SpamResult, t: AutolearnThresholds, ctx: MessageContext): void {
    const cls = autolearnClass(r, t);
    if (!cls) return;
    const now = Date.now();
    if (this.#pending >= this.maxPending || now - this.#lastAt < this.minIntervalMs) {
      this.skipped++;
      return;
    }
    this.#lastAt = now;
    ctx.trace('autolearn', { as: cls });
    this.#pending++;
    this.#chain = this.#chain
      .then(() => bayes.learn(input, cls))
      .then(
        () => void this.learned++,
        (err: unknown) => ctx.log.warn({ err }, 'autolearn failed'),
      )
      .finally(() => this.#pending--);
  }

  /** Resolves when everything queued so far was learned (tests, shutdown). */
  idle(): Promise<void> {
    return this.#chain;
  }
}
