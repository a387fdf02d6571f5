// How an external engine's verdict becomes spam symbols merged into the score. The
// engine's contribution is always its own score times the configured weight:
// - spamd (SYMBOLS) names the rules that hit but not their points, so the score is one
//   symbol, SPAMD_SCORE, and each rule is listed as a zero-score SA_<RULE> symbol so the
//   trace and X-Spam-Status show what SpamAssassin saw;
// - Rspamd gives every symbol's score, so each scoring symbol becomes RSPAMD_<NAME> with
//   its score times the weight; what the symbols do not add up to (group limits,
//   composites) goes to RSPAMD_OTHER.
// A failed engine adds a zero-score *_UNAVAILABLE symbol (onError 'ignore') so the
// trace says the message was judged without it.
import type { SpamSymbol } from '../spam/types.ts';
import type { SpamdVerdict } from './spamd-client.ts';
import type { RspamdVerdict } from './rspamd-client.ts';

/** At most this many SA_/RSPAMD_ symbols per message: X-Spam-Status stays readable. */
export const MAX_LISTED = 30;

const round = (n: number) => Math.round(n * 1000) / 1000;

/** "URIBL_BLOCKED" -> "SA_URIBL_BLOCKED"; our symbol names are upper case, digits and underscores. */
export function prefixed(prefix: string, name: string): string {
  return `${prefix}${name.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`;
}

export function spamdResultSymbols(v: SpamdVerdict, weight: number): SpamSymbol[] {
  const rules = v.rules.slice(0, MAX_LISTED);
  const more = v.rules.length - rules.length;
  const out: SpamSymbol[] = [
    {
      name: 'SPAMD_SCORE',
      score: round(v.score * weight),
      description: `SpamAssassin (spamd): ${v.score} / ${v.threshold}${v.isSpam ? ', spam' : ''}${weight !== 1 ? `, weighted ${weight}` : ''}; rules: ${v.rules.join(', ') || 'none'}`,
    },
  ];
  for (const r of rules) out.push({ name: prefixed('SA_', r), score: 0, description: `SpamAssassin rule ${r} hit (its points are in SPAMD_SCORE)` });
  if (more > 0) out.push({ name: 'SA_MORE', score: 0, description: `${more} more SpamAssassin rules hit (see SPAMD_SCORE)` });
  return out;
}

export function rspamdResultSymbols(v: RspamdVerdict, weight: number): SpamSymbol[] {
  const scoring = v.symbols.filter((s) => s.score !== 0).sort((a, b) => Math.abs(b.score) - Math.abs(a.score));
  const listed = scoring.slice(0, MAX_LISTED);
  const out: SpamSymbol[] = listed.map((s) => ({
    name: prefixed('RSPAMD_', s.name),
    score: round(s.score * weight),
    description: `Rspamd ${s.name}${s.description ? `: ${s.description}` : ''}${s.options?.length ? ` (${s.options.slice(0, 5).join(', ')})` : ''}`,
  }));
  const total = round(v.score * weight);
  const rest = round(total - out.reduce((sum, s) => sum + s.score, 0));
  if (Math.abs(rest) >= 0.01) {
    out.push({ name: 'RSPAMD_OTHER', score: rest, description: `the part of Rspamd's score (${v.score} / ${v.requiredScore}, action "${v.action}") not itemised above` });
  }
  return out;
}

export function unavailable(prefix: 'SPAMD' | 'RSPAMD', why: string): SpamSymbol {
  return { name: `${prefix}_UNAVAILABLE`, score: 0, description: `not scanned by ${prefix === 'SPAMD' ? 'spamd' : 'Rspamd'} (onError=ignore): ${why}` };
}
