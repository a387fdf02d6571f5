import type { SaEvalFn } from './types.ts';

export const BODY_EVALS: Record<string, SaEvalFn> = {};
