// The SpamAssassin rule set the spam engine runs: where it is read from, what was
// loaded and what was skipped (by reason and rule name), for `hermes spam rules status`.
// Reading it compiles the rules, as the gateway does (once per change of the files).
import { loadSettings } from '../config/settings.ts';
import type { Db } from '../db/database.ts';
import { saRuleDirs, saRuleSetFor } from '../pipeline/filter/spam-stage.ts';
import { assertCan, type Actor } from './actor.ts';

export interface SpamRulesStatus {
  enabled: boolean;
  /** The directories read, in order; `defaults` when the setting names none. */
  dirs: string[];
  defaults: boolean;
  /** Why no rules run, when none do. */
  inactive: string | null;
  files: number;
  defined: number;
  loaded: number;
  byType: Record<string, number>;
  /** Rules that run with Bayes not scoring (score set 0) and once it scores (set 2). */
  active: { bayesOff: number; bayesOn: number };
  skipped: { reason: string; count: number; rules: string[] }[];
  approximations: { construct: string; count: number; rules: string[] }[];
  warnings: string[];
  compileMs: number;
}

export async function spamRulesStatus(db: Db, actor: Actor): Promise<SpamRulesStatus> {
  assertCan(actor, 'bayes.read');
  const s = await loadSettings(db);
  const dirs = saRuleDirs(s);
  const base = { enabled: s['spam.saRules'], dirs, defaults: !s['spam.saRulesDirs'].length };
  const set = saRuleSetFor(s);
  if (!set) {
    return {
      ...base,
      inactive: !s['spam.saRules'] ? 'spam.saRules is off' : 'no SpamAssassin rules found (install Debian\'s spamassassin package, or set spam.saRulesDirs)',
      files: 0, defined: 0, loaded: 0, byType: {}, active: { bayesOff: 0, bayesOn: 0 }, skipped: [], approximations: [], warnings: [], compileMs: 0,
    };
  }
  const st = set.stats;
  return {
    ...base,
    inactive: null,
    files: st.files,
    defined: st.defined,
    loaded: st.loaded,
    byType: st.byType,
    active: { bayesOff: set.activeRules(0).length, bayesOn: set.activeRules(2).length },
    skipped: Object.entries(st.skippedByReason).map(([reason, rules]) => ({ reason, count: rules.length, rules })).sort((a, b) => b.count - a.count),
    approximations: Object.entries(st.approximations).map(([construct, rules]) => ({ construct, count: rules.length, rules })),
    warnings: set.config.warnings,
    compileMs: st.compileMs,
  };
}
