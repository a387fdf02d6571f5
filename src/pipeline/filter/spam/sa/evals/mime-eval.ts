import type { SaEvalFn } from './types.ts';

export const MIME_EVALS: Record<string, SaEvalFn> = {};
