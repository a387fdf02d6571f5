// Each check declares its symbols once, with a default score and a description, so the
// whole rule set can be listed (and documented) without running anything.
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
