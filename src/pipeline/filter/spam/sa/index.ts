// SpamAssassin rule files run by the built-in engine: public surface.
export { readSaConfig, parseSaConfigText, type SaConfig, type SaRuleDef, type SaRuleType } from './config.ts';
export { compileSaRuleSet, type SaRule, type SaRuleSet, type SaRuleSetStats, type ScoreSet } from './rule-set.ts';
export { scanWithSaRules, saRulesCheck, type SaScanResult } from './check.ts';
export { defaultSaRuleDirs, loadSaRuleSet, saUpdateRulesDir, DEBIAN_RULES_DIR, SA_SITE_DIR } from './load.ts';
export { translatePerlRegex, UntranslatableRegex } from './perl-regex.ts';
