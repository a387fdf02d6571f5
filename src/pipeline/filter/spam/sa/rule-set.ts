// A SpamAssassin rule set compiled once per load: every rule's regex translated and
// compiled, meta expressions compiled and ordered after what they read, eval rules
// bound to our implementation of the eval function. What cannot run here is skipped,
// with the reason, and listed by `hermes spam rules status`:
//  - eval functions of plugins we do not implement (by plugin and function),
//  - network tests (tflags net: DNS blocklists, Razor, Pyzor, DCC): our own DNSBL
//    check covers the blocklists, and SpamAssassin scores them 0 without network too,
//  - regexes JavaScript cannot express, rule types we do not have (uri_detail ...).
import type { SaConfig, SaRuleDef, SaRuleType } from './config.ts';
import { compilePerlRegex, parsePerlRegexLiteral, UntranslatableRegex } from './perl-regex.ts';
import { compileMeta, MetaSyntaxError, type CompiledMeta } from './meta.ts';
import { replaceTags } from './replace-tags.ts';
import { requiredLiterals, type RequiredLiterals } from './prefilter.ts';
import { SA_EVALS, parseEvalCall, type SaEvalFn } from './evals/index.ts';

/** Score set index: bit 0 network tests, bit 1 Bayes (SpamAssassin's scoreset). */
export type ScoreSet = 0 | 1 | 2 | 3;

export interface SaRule {
  name: string;
  type: SaRuleType;
  description: string;
  scores: readonly [number, number, number, number];
  tflags: ReadonlySet<string>;
  priority: number;
  /** Hits counted at most (tflags multiple maxhits=N); 1 without `multiple`. */
  maxHits: number;
  /** Sub-rule (__NAME): counted for metas, never reported. */
  hidden: boolean;
  // Regex rules.
  re?: RegExp;
  /** One of these (lowercase) occurs in any text the regex matches (prefilter.ts); null: no such set. */
  literals?: RequiredLiterals;
  /** header rules: what to read (Subject, From:addr, ALL ...). */
  header?: string;
  negate?: boolean;
  /** header NAME exists:Header */
  exists?: boolean;
  ifUnset?: string;
  // Eval rules.
  evalFn?: SaEvalFn;
  evalArgs?: string[];
  // Meta rules.
  meta?: CompiledMeta;
  /** Index of each meta dependency in the rule list (-1: not loaded, counts as 0). */
  metaDeps?: number[];
  /** A meta dependency was skipped here (not undefined in the rule files): the meta may differ from SpamAssassin's. */
  partial?: boolean;
  index: number;
}

export interface SaSkip {
  name: string;
  reason: string;
}

export interface SaRuleSetStats {
  files: number;
  defined: number;
  loaded: number;
  byType: Record<string, number>;
  skipped: number;
  /** Skip reasons with the rule names, e.g. "eval:check_razor2 (plugin Razor2)". */
  skippedByReason: Record<string, string[]>;
  approximations: Record<string, string[]>;
  compileMs: number;
}

export interface SaRuleSet {
  dirs: readonly string[];
  rules: readonly SaRule[];
  byName: ReadonlyMap<string, SaRule>;
  /** Rules that run in a score set (score non-zero there), metas last in dependency order. */
  activeRules(set: ScoreSet): readonly SaRule[];
  /** Reported rules (not __sub-rules) that run in a score set. */
  reportedRules(set: ScoreSet): readonly SaRule[];
  /** By rule index: whether it runs in the score set. */
  runsIn(set: ScoreSet): readonly boolean[];
  stats: SaRuleSetStats;
  skipped: readonly SaSkip[];
  config: SaConfig;
}

const NETWORK_PLUGINS = /eval:(?:check_rbl|check_uridnsbl|check_razor2|check_pyzor|check_dcc|check_uri_host_listed|check_dns_sender|check_spf|check_dkim|check_dmarc|check_arc|check_hashbl|askdns|check_asn|check_senders_reputation|check_rbl_sub|check_rbl_txt|check_rbl_envfrom|check_rbl_from_host|check_rbl_headers|check_rbl_ns_from|check_rbl_rcvd|check_rbl_accreditor)/;

function splitRegexRuleDefinition(def: SaRuleDef): { header: string; op: string; rest: string } | null {
  const m = /^(\S+)\s*(=~|!~)\s*([\s\S]*)$/.exec(def.definition);
  if (!m) return null;
  return { header: m[1]!, op: m[2]!, rest: m[3]! };
}

export function compileSaRuleSet(conf: SaConfig, dirs: readonly string[] = []): SaRuleSet {
  const t0 = performance.now();
  const rules: SaRule[] = [];
  const skipped: SaSkip[] = [];
  const approximations: Record<string, string[]> = {};
  const skip = (name: string, reason: string) => skipped.push({ name, reason });
  const skippedNames = new Set<string>();

  for (const def of conf.rules.values()) {
    const name = def.name;
    const tflags = conf.tflags.get(name) ?? new Set<string>();
    const given = conf.scores.get(name);
    const dflt = name.startsWith('T_') ? 0.01 : 1;
    const d = tflags.has('nice') ? -dflt : dflt;
    const scores: [number, number, number, number] = given ? [...given] : [d, d, d, d];
    const maxHitsFlag = [...tflags].find((f) => f.startsWith('maxhits='));
    const rule: SaRule = {
      name, type: def.type, description: conf.describe.get(name) ?? '', scores, tflags,
      priority: conf.priority.get(name) ?? 0,
      maxHits: tflags.has('multiple') ? (maxHitsFlag ? Math.max(1, Number(maxHitsFlag.slice(8)) || 1) : 1000) : 1,
      hidden: name.startsWith('__'), index: -1,
    };
    try {
      // Network evals cannot run without the network; other rules flagged net (metas
      // over them) run wherever their score is non-zero, as in SpamAssassin.
      if (tflags.has('net') && /^eval:/.test(def.definition.replace(/^\S+\s+/, '')) ) throw new SkipRule('network test (tflags net)');
      if (def.type === 'meta') {
        rule.meta = compileMeta(def.definition);
      } else {
        let text = def.definition;
        let header: string | undefined;
        let op = '=~';
        if (def.type === 'header' || def.type === 'mimeheader') {
          const evalM = /^eval:/.test(text);
          if (!evalM) {
            const ex = /^exists:(\S+)\s*$/.exec(text);
            if (ex) {
              rule.header = ex[1]!;
              rule.exists = true;
              throw new Done();
            }
            const parts = splitRegexRuleDefinition(def);
            if (!parts) throw new SkipRule('header rule not understood');
            header = parts.header;
            op = parts.op;
            text = parts.rest;
          }
        }
        if (/^eval:/.test(text)) {
          const call = parseEvalCall(text.slice(5));
          if (!call) throw new SkipRule('eval call not understood');
          if (NETWORK_PLUGINS.test(text)) throw new SkipRule('network test');
          const fn = SA_EVALS[call.fn];
          if (!fn) throw new SkipRule(`eval:${call.fn} not implemented`);
          if (call.fn === 'check_bayes') throw new SkipRule('Bayes (the built-in classifier gives BAYES_*)');
          rule.evalFn = fn;
          rule.evalArgs = call.args;
          if (header) rule.header = header;
          throw new Done();
        }
        const literal = parsePerlRegexLiteral(text);
        if (!literal) throw new SkipRule('regex not understood');
        if (literal.pattern.includes('%{')) throw new SkipRule('capture tags (%{NAME}) not supported');
        if (conf.replaceRules.has(name)) literal.pattern = replaceTags(literal.pattern, conf);
        const unset = /^\[if-unset:\s*(.*?)\]\s*$/.exec(literal.rest);
        if (unset) rule.ifUnset = unset[1]!;
        const lineMode = def.type === 'body';
        const { re, approximations: approx } = compilePerlRegex(literal, { lineMode, global: rule.maxHits > 1 || lineMode });
        for (const a of approx) (approximations[a] ??= []).push(name);
        rule.re = re;
        rule.literals = requiredLiterals(re.source);
        if (header) {
          rule.header = header;
          rule.negate = op === '!~';
        }
      }
      throw new Done();
    } catch (err) {
      if (err instanceof Done) {
        rule.index = rules.length;
        rules.push(rule);
        continue;
      }
      skippedNames.add(name);
      if (err instanceof SkipRule) skip(name, err.message);
      else if (err instanceof UntranslatableRegex) skip(name, `regex: ${err.message}`);
      else if (err instanceof MetaSyntaxError) skip(name, `meta: ${err.message}`);
      else if (err instanceof SyntaxError) skip(name, 'regex: invalid in JavaScript');
      else throw err;
    }
  }

  const byName = new Map(rules.map((r) => [r.name, r]));
  for (const r of rules) {
    if (!r.meta) continue;
    r.metaDeps = r.meta.deps.map((d) => byName.get(d)?.index ?? -1);
    r.partial = r.meta.deps.some((d) => skippedNames.has(d));
  }

  const order = (set: ScoreSet): SaRule[] => {
    const runs = (r: SaRule) => r.scores[set] !== 0;
    const plain = rules.filter((r) => !r.meta && runs(r));
    // Metas after everything they read: a depth-first order, cycles broken.
    const metas: SaRule[] = [];
    const state = new Map<SaRule, number>();
    const visit = (r: SaRule) => {
      if (state.get(r)) return;
      state.set(r, 1);
      for (const i of r.metaDeps ?? []) {
        const dep = i >= 0 ? rules[i]! : null;
        if (dep?.meta && runs(dep)) visit(dep);
      }
      state.set(r, 2);
      metas.push(r);
    };
    for (const r of rules) if (r.meta && runs(r)) visit(r);
    return [...plain, ...metas];
  };
  const active = new Map<ScoreSet, SaRule[]>();
  const reported = new Map<ScoreSet, SaRule[]>();
  const runs = new Map<ScoreSet, boolean[]>();
  const byType: Record<string, number> = {};
  for (const r of rules) byType[r.evalFn ? `${r.type} eval` : r.type] = (byType[r.evalFn ? `${r.type} eval` : r.type] ?? 0) + 1;
  const skippedByReason: Record<string, string[]> = {};
  for (const s of skipped) (skippedByReason[s.reason] ??= []).push(s.name);
  return {
    dirs,
    rules,
    byName,
    activeRules(set) {
      let a = active.get(set);
      if (!a) {
        a = order(set);
        active.set(set, a);
      }
      return a;
    },
    reportedRules(set) {
      let a = reported.get(set);
      if (!a) {
        a = rules.filter((r) => !r.hidden && r.scores[set] !== 0);
        reported.set(set, a);
      }
      return a;
    },
    runsIn(set) {
      let a = runs.get(set);
      if (!a) {
        a = rules.map((r) => r.scores[set] !== 0);
        runs.set(set, a);
      }
      return a;
    },
    skipped,
    config: conf,
    stats: {
      files: conf.files.length,
      defined: conf.rules.size,
      loaded: rules.length,
      byType,
      skipped: skipped.length,
      skippedByReason,
      approximations,
      compileMs: Math.round(performance.now() - t0),
    },
  };
}

/** Control flow of compileSaRuleSet: the rule is complete (no stack trace needed). */
class Done {}
class SkipRule {
  constructor(readonly message: string) {}
}
