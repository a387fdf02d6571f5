// The eval functions of SpamAssassin's plugins that rules call (`body X eval:fn(args)`),
// implemented here as our own checks, by plugin. A rule calling a function missing from
// SA_EVALS is skipped and counted by name.
import type { SaEvalFn } from './types.ts';
import { HEADER_EVALS } from './header-eval.ts';
import { MIME_EVALS } from './mime-eval.ts';
import { HTML_EVALS } from './html-eval.ts';
import { BODY_EVALS } from './body-eval.ts';
import { RELAY_EVALS } from './relay-eval.ts';
import { MISC_EVALS } from './misc-eval.ts';

export type { SaEvalEnv, SaEvalFn } from './types.ts';

export const SA_EVALS: Readonly<Record<string, SaEvalFn>> = Object.freeze({
  ...HEADER_EVALS, ...MIME_EVALS, ...HTML_EVALS, ...BODY_EVALS, ...RELAY_EVALS, ...MISC_EVALS,
});

/** "fn('a', 2)" -> { fn, args: ['a', '2'] } */
export function parseEvalCall(text: string): { fn: string; args: string[] } | null {
  const m = /^\s*(\w+)\s*\(([\s\S]*)\)\s*$/.exec(text);
  if (!m) return null;
  const args: string[] = [];
  const re = /\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|([^,'"\s][^,]*?))\s*(?:,|$)/gy;
  const body = m[2]!.trim();
  let pos = 0;
  while (pos < body.length) {
    re.lastIndex = pos;
    const a = re.exec(body);
    if (!a || re.lastIndex === pos) return null;
    args.push(a[1] ?? a[2] ?? a[3] ?? '');
    pos = re.lastIndex;
  }
  return { fn: m[1]!, args };
}
