import type { SaEvalFn } from './types.ts';

export const HTML_EVALS: Record<string, SaEvalFn> = {};
