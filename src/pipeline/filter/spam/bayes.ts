// A Bayes classifier in the SpamBayes / SpamAssassin tradition:
//  - each token's spam probability is Gary Robinson's f(w): the ratio of spam to ham
//    frequency, pulled toward a prior x with strength s so that rare tokens count little;
//  - only the interesting tokens (at least 0.1 from 0.5, the strongest 500 at most) are
//    combined;
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
 * The probability ranges of SpamAssassin's BAYES_* rules. They name the Bayes symbol (the
 * highest bucket whose `min` is at most p). Their fixed scores are SpamAssassin's, used
 * only when the score curve is turned off (`curve: null`); by default the score comes from
 * DEFAULT_BAYES_CURVE.
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
 * The classifier is all but certain. With the score curve it is the top bucket (its name
 * replaces BAYES_99); with fixed scores it is added on top of BAYES_99, as in
 * SpamAssassin, which scores it 0.2 because hundreds of other rules and network tests
 * corroborate; this engine has far fewer, so here it lets a near-certain verdict reach
 * the quarantine threshold (5) by itself, as Rspamd's BAYES_SPAM (up to 5.1) does.
 */
export const DEFAULT_BAYES_999: BayesBucket = Object.freeze({
  name: 'BAYES_999',
  min: 0.999,
  score: 1.5,
  description: 'Bayes spam probability is 99.9 to 100%',
});

/**
 * The Bayes score as a function of the spam probability p, on the log of the odds
 * L = log10(p / (1 - p)), the scale on which independent evidence adds up (and on which
 * rule scores are meant to add up):
 *
 *   |L| <= log10(neutral / (1 - neutral)): 0        (p between 0.2 and 0.8 by default)
 *   beyond: hamSlope or spamSlope points per tenfold of the odds past that edge,
 *   clamped to [min, max]; from p >= certain the spam side may rise to certainMax.
 *
 * Chi-square combining is not calibrated: a p of 0.3 or 0.6 says "unsure", not "30% or 60%
 * likely spam", and newsletters (the hard ham) sit there. Scoring that region (the old
 * curve gave p = 0.1 two points and p = 0.5 three and a half) tagged 6% of unseen ham,
 * so unsure scores nothing, as SpamAssassin's BAYES_40/BAYES_50 nearly do, and the
 * classifier speaks only where it is sure. With the defaults: p = 0.9 scores 1, 0.95 scores
 * 1.9, 0.99 scores 3.9, and from 0.999 (sure to one in a thousand) 5, the quarantine level
 * by itself; p >= 0.9999 up to 6. p = 0.05 scores -0.7, p = 0.01 -1.4, confident ham -2
 * (BAYES_00 -1.9). The spam side is steep because, in cross-validation on the shared
 * corpus (bench/spam.ts, development part), no ham came above p = 0.8 while 15% of the
 * spam sat between 0.8 and 0.9999: those are the messages the slope lifts to the
 * quarantine level with a rule or two.
 */
export interface BayesScoreCurve {
  /** Probabilities from 1 - neutral to neutral score 0. */
  neutral: number;
  /** Points per tenfold of the odds beyond the neutral band, towards ham (subtracted). */
  hamSlope: number;
  /** Points per tenfold of the odds beyond the neutral band, towards spam. */
  spamSlope: number;
  /** Lowest score. */
  min: number;
  /** Highest score while p is below `certain`. */
  max: number;
  /** Probability from which the score may rise to `certainMax`. */
  certain: number;
  certainMax: number;
}

export const DEFAULT_BAYES_CURVE: BayesScoreCurve = Object.freeze({ neutral: 0.8, hamSlope: 1, spamSlope: 2.8, min: -2, max: 5, certain: 0.9999, certainMax: 6 });

/** The score of a probability on a curve (see BayesScoreCurve). */
export function bayesCurveScore(c: BayesScoreCurve, probability: number): number {
  const p = Math.min(Math.max(probability, 1e-300), 1 - 1e-16);
  const l = Math.log10(p / (1 - p));
  const edge = Math.log10(c.neutral / (1 - c.neutral));
  let v = 0;
  if (l > edge) v = c.spamSlope * (l - edge);
  else if (l < -edge) v = -c.hamSlope * (-edge - l);
  const max = probability >= c.certain ? c.certainMax : c.max;
  // Rounded to hundredths: +0 rather than -0 for the neutral band.
  return Math.round(Math.min(max, Math.max(c.min, v)) * 100) / 100 + 0;
}

export interface BayesOptions {
  /** Spam messages to learn before scoring. Default 200. */
  minSpam?: number;
  /** Ham messages to learn before scoring. Default 200. */
  minHam?: number;
  /**
   * Robinson's s: how many messages' worth of weight the prior has. Default 0.25, between
   * SpamBayes's 0.45 and SpamAssassin's smaller values: a word seen in a few messages of
   * one class only counts for more. Cross-validation with a classifier that never learned
   * a kind of ham (bench/spam.ts, "hard_ham never learned") put a third fewer of those
   * newsletters over the threshold than with 0.45, at the same spam recall.
   */
  strength?: number;
  /** Robinson's x: the probability assumed for a token never seen. Default 0.5. */
  prior?: number;
  /** Tokens whose probability is closer than this to 0.5 are ignored. Default 0.1 (SpamBayes). */
  minProbStrength?: number;
  /**
   * Most tokens combined per message (the strongest ones). Default 500. SpamBayes's 150
   * lets a long message be judged by its 150 most extreme words alone: a spam that quotes
   * a news article (Bayes poison) or a newsletter with a commercial section is then judged
   * by whichever side has more perfect 0/N tokens. With every interesting token counted,
   * the evidence of the rest of the message is heard too (cross-validation: 300 to 3000
   * all better than 150, and alike).
   */
  maxDiscriminators?: number;
  tokenizer?: TokenizerOptions;
  /** Names (and, without a curve, scores) by probability range. */
  buckets?: readonly BayesBucket[];
  /** The top bucket (see DEFAULT_BAYES_999); null to disable. */
  extreme?: BayesBucket | null;
  /** Probability to score; null for the fixed bucket scores. Default DEFAULT_BAYES_CURVE. */
  curve?: BayesScoreCurve | null;
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
  private readonly curve: BayesScoreCurve | null;

  constructor(store: BayesStore, opts: BayesOptions = {}) {
    this.store = store;
    this.minSpam = opts.minSpam ?? 200;
    this.minHam = opts.minHam ?? 200;
    this.s = opts.strength ?? 0.25;
    this.x = opts.prior ?? 0.5;
    this.minStrength = opts.minProbStrength ?? 0.1;
    this.maxDisc = opts.maxDiscriminators ?? 500;
    this.tokenizerOptions = opts.tokenizer ?? {};
    this.buckets = [...(opts.buckets ?? DEFAULT_BAYES_BUCKETS)].sort((a, b) => a.min - b.min);
    this.extreme = opts.extreme === undefined ? DEFAULT_BAYES_999 : opts.extreme;
    this.curve = opts.curve === undefined ? DEFAULT_BAYES_CURVE : opts.curve;
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

  /** Whether enough of both classes has been learned to score (what SpamAssassin's score sets 2 and 3 need). */
  async ready(): Promise<boolean> {
    return this.isReady(await this.store.totals());
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
    const scored: { p: number; d: number }[] = [];
    for (const c of counts.values()) {
      const p = this.tokenProbability(c.spam, c.ham, totals.spam, totals.ham);
      const d = Math.abs(p - 0.5);
      if (d >= this.minStrength) scored.push({ p, d });
    }
    if (scored.length > this.maxDisc) scored.sort((a, b) => b.d - a.d).length = this.maxDisc;
    const r = this.combine(scored.map((e) => e.p));
    return { ...r, tokens: toks.length, used: scored.length };
  }

  /** The score of a probability on the curve (null without a curve). */
  scoreFor(probability: number): number | null {
    return this.curve ? bayesCurveScore(this.curve, probability) : null;
  }

  /** The symbols for a probability: one, named by its bucket and scored on the curve (or with fixed bucket scores). */
  symbolsFor(probability: number): SpamSymbol[] {
    let chosen: BayesBucket | undefined;
    for (const b of this.buckets) if (probability >= b.min) chosen = b;
    const score = this.scoreFor(probability);
    if (score !== null) {
      if (this.extreme && probability >= this.extreme.min) chosen = this.extreme;
      return chosen ? [{ name: chosen.name, score, description: chosen.description }] : [];
    }
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
