// Each check declares its symbols once, with a default score and a description, so the
// whole rule set can be listed (and documented) without running anything.
//
// Scores follow the evidence, on the scale SpamAssassin and Rspamd use: a sign that
// legitimate mail software does not produce (an impossible date, an HTML fragment sent
// alone, a bare IP address as HELO) scores about 1; one that ordinary mail shows now and
// then scores 0.5 or less; none reaches the quarantine threshold (5) alone, and the Bayes
// classifier carries the content. Checked with bench/spam.ts (--symbols shows how often
// each symbol fires on held-out spam and ham); never set to catch particular messages.
import type { SpamSymbol } from '../types.ts';

export interface RuleDef {
  score: number;
  description: string;
}

export type RuleTable<K extends string = string> = Readonly<Record<K, RuleDef>>;

export function defineRules<K extends string>(rules: Record<K, RuleDef>): RuleTable<K> {
  return Object.freeze(rules);
}

/** A symbol for rule `name` of `table`. */
export function hit<K extends string>(table: RuleTable<K>, name: K): SpamSymbol {
  const r = table[name];
  return { name, score: r.score, description: r.description };
}
