import type { SaEvalFn } from './types.ts';

export const MISC_EVALS: Record<string, SaEvalFn> = {};
