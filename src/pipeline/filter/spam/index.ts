// The built-in spam engine's public surface.
export type { SpamSymbol, SpamInput, SpamCheck, SpamResult, SpamClass, SpamAuthResults, SpamEnvelope, SpamCheckError } from './types.ts';
export { ScanContext } from './context.ts';
export { SpamEngine, type SpamEngineOptions } from './engine.ts';
export {
  Bayes, messageDigest, chi2Q, DEFAULT_BAYES_BUCKETS, DEFAULT_BAYES_999, DEFAULT_BAYES_CURVE, bayesCurveScore,
  type BayesOptions, type BayesBucket, type BayesScoreCurve, type BayesClassification, type BayesStats, type LearnOutcome,
} from './bayes.ts';
export type { BayesStore, BayesChange, BayesTotals, TokenCounts } from './bayes-store.ts';
export { MemoryBayesStore } from './bayes-memory-store.ts';
export { tokenize, type TokenizerOptions } from './tokenizer.ts';
export { defaultChecks, BUILTIN_RULES } from './checks/index.ts';
