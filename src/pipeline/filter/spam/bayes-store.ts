// Where the Bayes classifier keeps its counts. The interface is shaped for a SQL
// implementation with batched statements:
//
//   bayes_tokens  (token TEXT PRIMARY KEY, spam INTEGER, ham INTEGER, atime INTEGER)
//   bayes_learned (digest TEXT PRIMARY KEY, class TEXT, learned_at INTEGER)
//   bayes_totals  (class TEXT PRIMARY KEY, messages INTEGER)   -- or two rows in a settings table
//
//   counts():  SELECT token, spam, ham FROM bayes_tokens WHERE token IN (...)   -- in chunks of ~500
//              (and, when `touch` is given, UPDATE bayes_tokens SET atime = ? WHERE token IN (...) later, batched)
//   apply():   one transaction per call:
//              +1: INSERT INTO bayes_tokens (token, spam, ham, atime) VALUES ... ON CONFLICT (token)
//                  DO UPDATE SET spam = spam + excluded.spam, ham = ham + excluded.ham, atime = excluded.atime
//              -1: UPDATE bayes_tokens SET spam = MAX(spam - 1, 0) WHERE token IN (...);
//                  DELETE FROM bayes_tokens WHERE spam = 0 AND ham = 0 AND token IN (...)
//              then the class total, and INSERT / DELETE of the digest in bayes_learned.
//
// Tokens are short strings (at most ~110 characters). A store may hash them (for size or
// privacy) as long as counts() answers under the token it was given.
import type { SpamClass } from './types.ts';

export interface TokenCounts {
  /** Learned spam messages that contained the token. */
  spam: number;
  /** Learned ham messages that contained the token. */
  ham: number;
}

export interface BayesTotals {
  spam: number;
  ham: number;
}

/** One learned (delta +1) or forgotten (delta -1) message. */
export interface BayesChange {
  digest: string;
  cls: SpamClass;
  delta: 1 | -1;
  /** The message's distinct tokens. */
  tokens: readonly string[];
  at: Date;
}

export interface BayesStore {
  /** Messages learned per class. */
  totals(): Promise<BayesTotals>;
  /**
   * Counts for many tokens at once; tokens never learned are absent from the map.
   * `touch`, when given, is the time of use: stores that expire old tokens record it.
   */
  counts(tokens: readonly string[], touch?: Date): Promise<Map<string, TokenCounts>>;
  /** The class a message digest was learned as, or null. */
  learned(digest: string): Promise<SpamClass | null>;
  /** Applies the changes in order, atomically (all or none). */
  apply(changes: readonly BayesChange[]): Promise<void>;
  /** Number of distinct tokens held. */
  tokenCount(): Promise<number>;
  /** Forgets everything. */
  clear(): Promise<void>;
  /** Removes tokens not used (learned or seen in a scan) since `before`; returns how many. */
  expire?(before: Date): Promise<number>;
}
