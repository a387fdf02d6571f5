// Types shared by the built-in spam engine: checks emit named symbols with scores and
// descriptions (as SpamAssassin and Rspamd do); the engine sums them.
import type { Email } from 'postal-mime';
import type { ScanContext } from './context.ts';

export type { ScanContext };

/** One finding of a check. Positive scores point to spam, negative ones to ham. */
export interface SpamSymbol {
  name: string;
  score: number;
  description: string;
  /**
   * What the symbol counts for autolearn when that differs from `score`: a SpamAssassin
   * rule counts its score of the set without Bayes (as SpamAssassin's autolearn does), and
   * nothing when its tflags say noautolearn.
   */
  learnScore?: number;
}

/** Authentication results, filled in by the verify stage (mailauth) when it has run. */
export interface SpamAuthResults {
  /** 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'temperror' | 'permerror' */
  spf?: string;
  /** SPF of the HELO identity checked on its own (RFC 7208 2.3), when it was. */
  spfHelo?: string;
  /** 'pass' | 'fail' | 'neutral' | 'none' | 'policy' | 'temperror' | 'permerror' */
  dkim?: string;
  /** 'pass' | 'fail' | 'none' | 'temperror' | 'permerror' */
  dmarc?: string;
  /** The published DMARC policy of the From domain, when known ('reject' | 'quarantine' | 'none'). */
  dmarcPolicy?: string;
}

export interface SpamEnvelope {
  mailFrom: string;
  rcptTo: string[];
  clientIp?: string;
  helo?: string;
}

export interface SpamInput {
  /** The message exactly as received. */
  raw: Buffer;
  /** The same message parsed by postal-mime (the pipeline parses once and shares it). */
  parsed: Email;
  envelope?: SpamEnvelope;
  /** Domains this gateway receives mail for (lowercase). */
  localDomains?: string[];
  auth?: SpamAuthResults;
  /** Time of receipt; dates in headers are judged against it. Default: the current time. */
  now?: Date;
}

export interface SpamCheck {
  readonly name: string;
  run(input: SpamInput, ctx: ScanContext): SpamSymbol[] | Promise<SpamSymbol[]>;
}

export interface SpamCheckError {
  check: string;
  error: string;
}

export interface SpamResult {
  /** Sum of all symbol scores, rounded to 0.01. */
  score: number;
  symbols: SpamSymbol[];
  /** Checks that threw. Their symbols are missing from the score: the caller decides (tempfail by default). */
  errors: SpamCheckError[];
  /** Milliseconds each check took, by check name. */
  checkMs?: Record<string, number>;
}

export type SpamClass = 'spam' | 'ham';
