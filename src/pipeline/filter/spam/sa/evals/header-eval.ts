import type { SaEvalFn } from './types.ts';

export const HEADER_EVALS: Record<string, SaEvalFn> = {};
