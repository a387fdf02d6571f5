import type { SaEvalFn } from './types.ts';

export const RELAY_EVALS: Record<string, SaEvalFn> = {};
