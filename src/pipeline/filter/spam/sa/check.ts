// Runs a compiled SpamAssassin rule set on a message as one spam check: each rule is a
// symbol like our own (its name, its SpamAssassin score for the score set in use, its
// description). Body rules run once each over all body lines joined (line-mode
// regexes), rawbody rules over each decoded text part, header rules over the values
// SpamAssassin would give them, uri rules over each URI, full rules over the message;
// then metas, in dependency order, over the hit counts.
import type { SpamCheck, SpamInput, SpamSymbol } from '../types.ts';
import type { ScanContext } from '../context.ts';
import { SaMessage } from './message.ts';
import type { SaRule, SaRuleSet, ScoreSet } from './rule-set.ts';
import type { SaEvalEnv } from './evals/index.ts';
import { mayMatch, type RequiredLiterals } from './prefilter.ts';

export interface SaCheckOptions {
  /** The score set for a message: 0 while Bayes does not score, 2 once it does (network tests never run here). */
  scoreSet: () => ScoreSet | Promise<ScoreSet>;
  /** Factor on every rule's score (spam.saRulesWeight); autolearn still counts the rule's own score. Default 1. */
  weight?: number;
}

/** The symbols with their scores multiplied by `weight` (learnScore keeps the rule's own no-Bayes score). */
export function weighSaSymbols(symbols: SpamSymbol[], weight: number): SpamSymbol[] {
  if (weight === 1) return symbols;
  return symbols.map((s) => ({ ...s, score: Math.round(s.score * weight * 1000) / 1000, learnScore: s.learnScore ?? s.score }));
}

export interface SaScanResult {
  /** Hit counts by rule index (sub-rules included). */
  hits: Map<string, number>;
  symbols: SpamSymbol[];
  ms: number;
}

function countMatches(re: RegExp, text: string, max: number, literals: RequiredLiterals | undefined, lower?: string): number {
  if (literals && !mayMatch(literals, lower ?? text.toLowerCase())) return 0;
  if (!re.global) return re.test(text) ? 1 : 0;
  re.lastIndex = 0;
  let n = 0;
  while (n < max) {
    const m = re.exec(text);
    if (!m) break;
    n++;
    if (m[0] === '') re.lastIndex++;
  }
  re.lastIndex = 0;
  return n;
}

/** Hit count of one non-meta rule. */
export function runRule(r: SaRule, m: SaMessage, env: SaEvalEnv): number {
  if (r.evalFn) {
    const v = r.evalFn(m, r.evalArgs ?? [], r.header ? { ...env, header: r.header } : env);
    return typeof v === 'number' ? v : v ? 1 : 0;
  }
  if (r.exists) {
    return r.type === 'mimeheader' ? (m.parts.some((p) => p.headers.some((h) => h.name === r.header!.toLowerCase())) ? 1 : 0) : m.get(r.header!) !== undefined ? 1 : 0;
  }
  const re = r.re!;
  switch (r.type) {
    case 'header': {
      const got = m.get(r.header!);
      const v = got ?? r.ifUnset ?? '';
      // Lower-cased once per header request, not once per rule: with hundreds of header
      // rules, a huge header (issue 12: a Subject of 900 KB) was lower-cased hundreds of times.
      const n = countMatches(re, v, r.maxHits, r.literals, r.literals && got !== undefined ? m.lower(`header ${r.header}`, got) : undefined);
      return r.negate ? (n ? 0 : 1) : n;
    }
    case 'mimeheader': {
      const raw = r.header!.endsWith(':raw');
      const name = r.header!.replace(/:raw$/, '').toLowerCase();
      let n = 0;
      for (const p of m.parts) {
        for (const h of p.headers) {
          if (h.name !== name) continue;
          const v = raw ? h.value : SaMessage.decodeValue(h.value);
          n += countMatches(re, `${v}\n`, r.maxHits - n, r.literals);
          if (n >= r.maxHits) break;
        }
      }
      return r.negate ? (n ? 0 : 1) : n;
    }
    case 'body':
      return countMatches(re, m.body, r.maxHits, r.literals, m.lower('body', m.body));
    case 'rawbody': {
      let n = 0;
      const chunks = m.rawbody;
      for (let i = 0; i < chunks.length; i++) {
        n += countMatches(re, chunks[i]!, r.maxHits - n, r.literals, m.lower(`rawbody${i}`, chunks[i]!));
        if (n >= r.maxHits) break;
      }
      return n;
    }
    case 'uri': {
      let n = 0;
      for (const u of m.uris) {
        n += countMatches(re, u, r.maxHits - n, r.literals);
        if (n >= r.maxHits) break;
      }
      return n;
    }
    case 'full':
      return countMatches(re, m.raw, r.maxHits, r.literals, m.lower('full', m.raw));
    default:
      return 0;
  }
}

/**
 * Evaluates the rule set on one message. Reported rules all run; sub-rules (__NAME) and
 * what only metas read are run when a meta asks for them, once.
 */
export function scanWithSaRules(set: SaRuleSet, input: SpamInput, scoreSet: ScoreSet, profile?: Map<string, number>): SaScanResult {
  const t0 = performance.now();
  const m = new SaMessage(input.raw, {
    ...(input.envelope?.mailFrom ? { mailFrom: input.envelope.mailFrom } : {}),
    ...(input.envelope?.helo ? { helo: input.envelope.helo } : {}),
    ...(input.envelope?.clientIp ? { clientIp: input.envelope.clientIp } : {}),
  });
  const env: SaEvalEnv = { conf: set.config, now: input.now ?? new Date() };
  const runs = set.runsIn(scoreSet);
  /** Hit count by rule index; -1 not yet known. */
  const counts = new Array<number>(set.rules.length).fill(-1);
  const count = (index: number): number => {
    if (index < 0 || !runs[index]) return 0;
    const known = counts[index]!;
    if (known >= 0) return known;
    counts[index] = 0; // a cycle reads 0
    const r = set.rules[index]!;
    let n = 0;
    if (r.meta) {
      const deps = r.metaDeps!;
      n = r.meta.evaluate((i) => count(deps[i]!)) ? 1 : 0;
    } else {
      const start = profile ? performance.now() : 0;
      try {
        n = runRule(r, m, env);
      } catch {
        n = 0;
      }
      if (profile) profile.set(r.name, (profile.get(r.name) ?? 0) + performance.now() - start);
    }
    counts[index] = n;
    return n;
  };
  const hits = new Map<string, number>();
  const symbols: SpamSymbol[] = [];
  for (const r of set.reportedRules(scoreSet)) {
    const n = count(r.index);
    if (!n) continue;
    hits.set(r.name, n);
    const sym: SpamSymbol = { name: r.name, score: r.scores[scoreSet], description: r.description || `SpamAssassin rule ${r.name}` };
    // Autolearn counts a rule's score of the set without Bayes, and never a noautolearn rule.
    const learn = r.tflags.has('noautolearn') ? 0 : r.scores[(scoreSet & 1) as ScoreSet];
    if (learn !== sym.score) sym.learnScore = learn;
    symbols.push(sym);
  }
  // Sub-rules a meta asked for are in the hit counts too (not in the symbols).
  for (let i = 0; i < counts.length; i++) if (counts[i]! > 0 && !hits.has(set.rules[i]!.name)) hits.set(set.rules[i]!.name, counts[i]!);
  return { hits, symbols, ms: performance.now() - t0 };
}

/** The rule set as a check of the built-in engine. */
export function saRulesCheck(set: SaRuleSet, o: SaCheckOptions): SpamCheck {
  return {
    name: 'spamassassin-rules',
    async run(input: SpamInput, _ctx: ScanContext) {
      return weighSaSymbols(scanWithSaRules(set, input, await o.scoreSet()).symbols, o.weight ?? 1);
    },
  };
}
