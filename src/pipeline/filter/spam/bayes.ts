// A Bayes classifier in the SpamBayes / SpamAssassin tradition:
//  - each token's spam probability is Gary Robinson's f(w): the ratio of spam to ham
//    frequency, pulled toward a prior x with strength s so that rare tokens count little;
//  - only the most interesting tokens (furthest from 0.5, at most 150) are combined;
//  - they are combined with Fisher's method (Robinson's chi-square combining), which
//    gives separate evidence for spam (S) and for ham (H) and reports (1 + S - H) / 2,
//    so that mail with strong evidence both ways lands near 0.5 ("unsure") instead of
//    being forced to an extreme.
// It answers only once it has learned enough of both classes (200 each by default, as
// SpamAssassin): a classifier that has seen little mail is more often wrong than right.
import { createHash } from 'node:crypto';
import type { SpamClass, SpamInput, SpamSymbol, SpamCheck } from './types.ts';
import { ScanContext } from './context.ts';
import { tokenize, type TokenizerOptions } from './tokenizer.ts';
import type { BayesStore, BayesTotals } from './bayes-store.ts';

export interface BayesBucket {
  name: string;
  /** Lowest probability of the bucket (inclusive). */
  min: number;
  score: number;
  description: string;
}

/**
 * Scores by probability, after SpamAssassin's BAYES_* rules: exactly one bucket fires,
 * the highest whose `min` is at most p; BAYES_999 is added on top of BAYES_99 (as in
 * SpamAssassin).
 */
export const DEFAULT_BAYES_BUCKETS: readonly BayesBucket[] = Object.freeze([
  { name: 'BAYES_00', min: 0, score: -1.9, description: 'Bayes spam probability is 0 to 1%' },
  { name: 'BAYES_05', min: 0.01, score: -0.5, description: 'Bayes spam probability is 1 to 5%' },
  { name: 'BAYES_20', min: 0.05, score: -0.001, description: 'Bayes spam probability is 5 to 20%' },
  { name: 'BAYES_40', min: 0.2, score: -0.001, description: 'Bayes spam probability is 20 to 40%' },
  { name: 'BAYES_50', min: 0.4, score: 0.8, description: 'Bayes spam probability is 40 to 60%' },
  { name: 'BAYES_60', min: 0.6, score: 1.5, description: 'Bayes spam probability is 60 to 80%' },
  { name: 'BAYES_80', min: 0.8, score: 2.0, description: 'Bayes spam probability is 80 to 95%' },
  { name: 'BAYES_95', min: 0.95, score: 3.0, description: 'Bayes spam probability is 95 to 99%' },
  { name: 'BAYES_99', min: 0.99, score: 3.5, description: 'Bayes spam probability is 99 to 100%' },
]);

/**
 * Added on top of BAYES_99 when the classifier is all but certain. SpamAssassin scores it
 * 0.2 because hundreds of other rules and network tests corroborate; this engine has far
 * fewer, so a near-certain verdict of the site's own classifier is allowed to reach the
 * quarantine threshold (5) by itself, as Rspamd's BAYES_SPAM (up to 5.1) does. Anything
 * less certain needs corroboration from other symbols.
 */
export const DEFAULT_BAYES_999: BayesBucket = Object.freeze({
  name: 'BAYES_999',
  min: 0.999,
  score: 1.5,
  description: 'Bayes spam probability is 99.9 to 100%',
});

export interface BayesOptions {
  /** Spam messages to learn before scoring. Default 200. */
  minSpam?: number;
  /** Ham messages to learn before scoring. Default 200. */
  minHam?: number;
  /** Robinson's s: how many messages' worth of weight the prior has. Default 0.45 (SpamBayes). */
  strength?: number;
  /** Robinson's x: the probability assumed for a token never seen. Default 0.5. */
  prior?: number;
  /** Tokens whose probability is closer than this to 0.5 are ignored. Default 0.1 (SpamBayes). */
  minProbStrength?: number;
  /** Most tokens combined per message. Default 150. */
  maxDiscriminators?: number;
  tokenizer?: TokenizerOptions;
  /** EXPERIMENT */
  combining?: 'chi2' | 'robinson';
  tiling?: boolean;
  buckets?: readonly BayesBucket[];
  /** Extra bucket on top of the top one; null to disable. */
  extreme?: BayesBucket | null;
}

export interface BayesClassification {
  /** Spam probability, 0 (ham) to 1 (spam). */
  probability: number;
  /** Evidence for spam and for ham (Fisher), each 0..1. */
  spamEvidence: number;
  hamEvidence: number;
  /** Tokens of the message, and how many of them were used. */
  tokens: number;
  used: number;
}

export interface BayesStats {
  spamMessages: number;
  hamMessages: number;
  tokens: number;
  minSpam: number;
  minHam: number;
  /** Enough of both classes has been learned to score. */
  ready: boolean;
}

export type LearnOutcome = 'learned' | 'relearned' | 'unchanged';

/** Survival function of the chi-square distribution for even degrees of freedom `v`. */
export function chi2Q(x2: number, v: number): number {
  const m = x2 / 2;
  let term = Math.exp(-m);
  let sum = term;
  for (let i = 1; i < v / 2; i++) {
    term *= m / i;
    sum += term;
  }
  return Math.min(sum, 1);
}

/**
 * A digest identifying a message for learning and forgetting: its Message-ID and body,
 * so that headers added on the way (Received, X-Spam-*, a tagged Subject) do not change
 * it. Learn from the message as received (the quarantine copy), not from a copy whose
 * body was changed later (banner, disclaimer).
 */
export function messageDigest(raw: Buffer): string {
  let sep = raw.indexOf('\r\n\r\n');
  let skip = 4;
  const lf = raw.indexOf('\n\n');
  if (sep < 0 || (lf >= 0 && lf < sep)) {
    sep = lf;
    skip = 2;
  }
  const head = sep < 0 ? raw : raw.subarray(0, sep);
  const body = sep < 0 ? Buffer.alloc(0) : raw.subarray(sep + skip);
  const headText = head.toString('latin1');
  const mid = /^message-id[ \t]*:[ \t]*(.*(?:\r?\n[ \t].*)*)/im.exec(headText)?.[1]?.replace(/\s+/g, '') ?? '';
  const h = createHash('sha256');
  h.update(`${mid}\n`);
  // Line endings and trailing white space differ between transports; ignore them.
  h.update(body.toString('latin1').replace(/[ \t]*\r?\n/g, '\n').replace(/\s+$/, ''));
  return h.digest('hex');
}

export class Bayes {
  readonly store: BayesStore;
  readonly minSpam: number;
  readonly minHam: number;
  private readonly s: number;
  private readonly x: number;
  private readonly minStrength: number;
  private readonly maxDisc: number;
  private readonly tokenizerOptions: TokenizerOptions;
  private readonly buckets: readonly BayesBucket[];
  private readonly extreme: BayesBucket | null;
  private readonly combining: 'chi2' | 'robinson';
  private readonly tiling: boolean;

  constructor(store: BayesStore, opts: BayesOptions = {}) {
    this.store = store;
    this.minSpam = opts.minSpam ?? 200;
    this.minHam = opts.minHam ?? 200;
    this.s = opts.strength ?? 0.45;
    this.x = opts.prior ?? 0.5;
    this.minStrength = opts.minProbStrength ?? 0.1;
    this.maxDisc = opts.maxDiscriminators ?? 150;
    this.tokenizerOptions = opts.tokenizer ?? {};
    this.buckets = [...(opts.buckets ?? DEFAULT_BAYES_BUCKETS)].sort((a, b) => a.min - b.min);
    this.extreme = opts.extreme === undefined ? DEFAULT_BAYES_999 : opts.extreme;
    this.combining = opts.combining ?? 'chi2';
    this.tiling = opts.tiling ?? false;
  }

  tokenize(input: SpamInput, ctx: ScanContext = new ScanContext(input)): string[] {
    return tokenize(input, ctx, this.tokenizerOptions);
  }

  /**
   * Learns a message as spam or ham. Learning it again as the same class changes
   * nothing; learning it as the other class first forgets the earlier learning.
   */
  async learn(input: SpamInput, cls: SpamClass, ctx?: ScanContext): Promise<LearnOutcome> {
    if (cls !== 'spam' && cls !== 'ham') throw new Error(`unknown class ${String(cls)}`);
    const digest = messageDigest(input.raw);
    const before = await this.store.learned(digest);
    if (before === cls) return 'unchanged';
    const tokens = this.tokenize(input, ctx);
    const at = input.now ?? new Date();
    if (before) {
      await this.store.apply([
        { digest, cls: before, delta: -1, tokens, at },
        { digest, cls, delta: 1, tokens, at },
      ]);
      return 'relearned';
    }
    await this.store.apply([{ digest, cls, delta: 1, tokens, at }]);
    return 'learned';
  }

  /** Undoes the learning of a message; false when it was never learned. */
  async forget(input: SpamInput, ctx?: ScanContext): Promise<boolean> {
    const digest = messageDigest(input.raw);
    const before = await this.store.learned(digest);
    if (!before) return false;
    const tokens = this.tokenize(input, ctx);
    await this.store.apply([{ digest, cls: before, delta: -1, tokens, at: input.now ?? new Date() }]);
    return true;
  }

  async stats(): Promise<BayesStats> {
    const t = await this.store.totals();
    return {
      spamMessages: t.spam,
      hamMessages: t.ham,
      tokens: await this.store.tokenCount(),
      minSpam: this.minSpam,
      minHam: this.minHam,
      ready: this.isReady(t),
    };
  }

  async clear(): Promise<void> {
    await this.store.clear();
  }

  private isReady(t: BayesTotals): boolean {
    return t.spam >= this.minSpam && t.ham >= this.minHam && t.spam > 0 && t.ham > 0;
  }

  /** Robinson's f(w) for a token seen in `spam` of `nspam` spam and `ham` of `nham` ham messages. */
  tokenProbability(spam: number, ham: number, nspam: number, nham: number): number {
    const sr = spam / nspam;
    const hr = ham / nham;
    const p = sr + hr > 0 ? sr / (sr + hr) : this.x;
    const n = spam + ham;
    return (this.s * this.x + n * p) / (this.s + n);
  }

  /** Combines token probabilities with Fisher's method (chi-square combining). */
  combine(probs: readonly number[]): { probability: number; spamEvidence: number; hamEvidence: number } {
    const n = probs.length;
    if (n === 0) return { probability: 0.5, spamEvidence: 0, hamEvidence: 0 };
    let lnHam = 0;
    let lnSpam = 0;
    for (const p of probs) {
      lnHam += Math.log(p);
      lnSpam += Math.log(1 - p);
    }
    if (this.combining === 'robinson') {
      const P = 1 - Math.exp(lnSpam / n);
      const Q = 1 - Math.exp(lnHam / n);
      const S = P + Q > 0 ? (P - Q) / (P + Q) : 0;
      return { probability: (1 + S) / 2, spamEvidence: P, hamEvidence: Q };
    }
    const S = 1 - chi2Q(-2 * lnSpam, 2 * n);
    const H = 1 - chi2Q(-2 * lnHam, 2 * n);
    return { probability: (1 + S - H) / 2, spamEvidence: S, hamEvidence: H };
  }

  /** The spam probability of a message, or null while too little has been learned. */
  async classify(input: SpamInput, ctx?: ScanContext, tokens?: string[]): Promise<BayesClassification | null> {
    const totals = await this.store.totals();
    if (!this.isReady(totals)) return null;
    const toks = tokens ?? this.tokenize(input, ctx);
    const counts = await this.store.counts(toks, input.now);
    let scored: { p: number; d: number; t: string }[] = [];
    for (const [t, c] of counts) {
      const p = this.tokenProbability(c.spam, c.ham, totals.spam, totals.ham);
      const d = Math.abs(p - 0.5);
      if (d >= this.minStrength) scored.push({ p, d, t });
    }
    if (this.tiling) {
      scored.sort((a, b) => b.d - a.d);
      const used = new Set<string>();
      const chosen: typeof scored = [];
      for (const e of scored) {
        if (chosen.length >= this.maxDisc) break;
        if (e.t.startsWith('bi:')) {
          const sp = e.t.indexOf(' ');
          const w1 = e.t.slice(3, sp);
          const w2 = e.t.slice(sp + 1);
          if (used.has(w1) || used.has(w2)) continue;
          used.add(w1);
          used.add(w2);
        } else if (!e.t.includes(':')) {
          const w = e.t.toLowerCase();
          if (used.has(w)) continue;
          used.add(w);
        }
        chosen.push(e);
      }
      scored = chosen;
    } else if (scored.length > this.maxDisc) scored.sort((a, b) => b.d - a.d).length = this.maxDisc;
    const r = this.combine(scored.map((e) => e.p));
    return { ...r, tokens: toks.length, used: scored.length };
  }

  /** The symbols for a probability. */
  symbolsFor(probability: number): SpamSymbol[] {
    let chosen: BayesBucket | undefined;
    for (const b of this.buckets) if (probability >= b.min) chosen = b;
    const out: SpamSymbol[] = [];
    if (chosen) out.push({ name: chosen.name, score: chosen.score, description: chosen.description });
    if (this.extreme && probability >= this.extreme.min) {
      out.push({ name: this.extreme.name, score: this.extreme.score, description: this.extreme.description });
    }
    return out;
  }

  /** This classifier as a check for the engine. */
  asCheck(): SpamCheck {
    return {
      name: 'bayes',
      run: async (input, ctx) => {
        const r = await this.classify(input, ctx);
        return r ? this.symbolsFor(r.probability) : [];
      },
    };
  }
}
