// Our SpamAssassin rule evaluator against SpamAssassin itself, rule by rule, on the
// shared corpus: for every message, the rules that fired here and in spamd (Debian's
// spamassassin 4, same rule files, network tests off, Bayes off: score set 0).
//
//   npx tsx bench/sa-compare.ts [--cached] [--rules 30] [--examples RULE]
//
// Agreement is counted over (message, rule) pairs for the rules we load and run
// (reported rules only: SpamAssassin's SYMBOLS does not list __sub-rules). Two figures:
// over all pairs, and over the pairs where at least one side fired (the strict one).
// --cached compares only the messages whose spamd verdict is cached already.
import PostalMime from 'postal-mime';
import { loadSpamAssassinCorpus, spamAssassinCorpusDir } from './lib/corpus.ts';
import { cachedSpamAssassinVerdicts, spamAssassinVerdicts, type SaVerdict } from './lib/sa-reference.ts';
import { defaultSaRuleDirs, loadSaRuleSet } from '../src/pipeline/filter/spam/sa/load.ts';
import { scanWithSaRules } from '../src/pipeline/filter/spam/sa/check.ts';
import type { SaRuleSet } from '../src/pipeline/filter/spam/sa/rule-set.ts';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}
const SHOW_RULES = Number(arg('rules', '40'));
const EXAMPLES = arg('examples', '');
const CACHED_ONLY = process.argv.includes('--cached');

/**
 * Where a disagreement can come from, read off the rule: what it (or, for a meta, what
 * it reads) depends on that is ours rather than SpamAssassin's code — an eval function,
 * the relay parsing of X-Spam-Relays-*, a regex translated approximately, a rule
 * skipped here.
 */
function why(set: SaRuleSet, name: string): string {
  const causes = new Set<string>();
  const seen = new Set<string>();
  const approx = new Map<string, string>();
  for (const [what, names] of Object.entries(set.stats.approximations)) for (const n of names) approx.set(n, what);
  const skipped = new Set(set.skipped.map((x) => x.name));
  const visit = (n: string, depth: number) => {
    if (seen.has(n) || depth > 6) return;
    seen.add(n);
    const r = set.byName.get(n);
    if (!r) {
      causes.add(skipped.has(n) ? `reads skipped ${n}` : `reads undefined ${n}`);
      return;
    }
    if (r.evalFn) causes.add(`eval ${/eval:(\w+)/.exec(set.config.rules.get(n)?.definition ?? '')?.[1] ?? ''}`);
    if (r.header && /^X-Spam-Relays|^ALL-/.test(r.header)) causes.add('relay parsing (X-Spam-Relays)');
    if (approx.has(n)) causes.add(`regex approximated (${approx.get(n)})`);
    if (r.re && (r.type === 'rawbody' || r.type === 'body')) causes.add(`${r.type} text rendering`);
    if (r.meta) for (const d of r.meta.deps) visit(d, depth + 1);
  };
  visit(name, 0);
  return [...causes].slice(0, 4).join('; ') || 'header values';
}

async function main(): Promise<void> {
  const corpus = loadSpamAssassinCorpus(spamAssassinCorpusDir());
  const dirs = defaultSaRuleDirs();
  if (!dirs.length) throw new Error('SpamAssassin rules not installed (apt-get install spamassassin)');
  const t0 = performance.now();
  const set = loadSaRuleSet(dirs);
  process.stdout.write(`rules: ${dirs.join(', ')}: ${set.stats.loaded} loaded, ${set.stats.skipped} skipped, ${Math.round(performance.now() - t0)} ms to load\n`);

  let sa: Map<string, SaVerdict>;
  const msgs = corpus.map((m) => ({ key: m.path, raw: m.raw }));
  if (CACHED_ONLY) sa = cachedSpamAssassinVerdicts();
  else sa = await spamAssassinVerdicts(msgs, (s) => process.stdout.write(s));

  const compared = set.activeRules(0).filter((r) => !r.hidden);
  const comparedNames = new Set(compared.map((r) => r.name));
  const skippedNames = new Set(set.skipped.map((s) => s.name));
  const perRule = new Map<string, { both: number; oursOnly: number; saOnly: number; examplesOurs: string[]; examplesSa: string[] }>();
  const saUnloaded = new Map<string, number>();
  let pairs = 0, agree = 0, eitherFired = 0, bothFired = 0, messages = 0;
  let ms = 0;
  for (const m of corpus) {
    const ref = sa.get(m.path);
    if (!ref) continue;
    messages++;
    const parsed = await PostalMime.parse(m.raw);
    const r = scanWithSaRules(set, { raw: m.raw, parsed, ...(m.deliveredAt ? { now: m.deliveredAt } : {}) }, 0);
    ms += r.ms;
    const saSet = new Set(ref.rules);
    for (const name of saSet) if (!comparedNames.has(name)) saUnloaded.set(name, (saUnloaded.get(name) ?? 0) + 1);
    for (const rule of compared) {
      const ours = r.hits.has(rule.name);
      const theirs = saSet.has(rule.name);
      pairs++;
      if (ours === theirs) agree++;
      if (ours || theirs) eitherFired++;
      if (ours && theirs) bothFired++;
      if (ours || theirs) {
        const e = perRule.get(rule.name) ?? { both: 0, oursOnly: 0, saOnly: 0, examplesOurs: [], examplesSa: [] };
        if (ours && theirs) e.both++;
        else if (ours) {
          e.oursOnly++;
          if (e.examplesOurs.length < 3) e.examplesOurs.push(m.path);
        } else {
          e.saOnly++;
          if (e.examplesSa.length < 3) e.examplesSa.push(m.path);
        }
        perRule.set(rule.name, e);
      }
    }
  }
  const pct = (a: number, b: number) => `${((100 * a) / Math.max(b, 1)).toFixed(2)}%`;
  process.stdout.write(
    `\nmessages compared: ${messages}; rules compared: ${compared.length} (loaded, non-zero score in set 0, reported)\n` +
      `(message, rule) pairs: ${pairs}; agreement ${pct(agree, pairs)}\n` +
      `pairs where either side fired: ${eitherFired}; both fired ${bothFired} (agreement among them ${pct(bothFired, eitherFired)})\n` +
      `rule set evaluation: ${(ms / Math.max(messages, 1)).toFixed(2)} ms/message\n`,
  );
  const rows = [...perRule].filter(([, e]) => e.oursOnly + e.saOnly > 0).sort((a, b) => b[1].oursOnly + b[1].saOnly - (a[1].oursOnly + a[1].saOnly));
  process.stdout.write(`\nrules that disagree (${rows.length}), most disagreements first: rule, both, ours only, SpamAssassin only, type: what it depends on that is ours (the likely cause)\n`);
  for (const [name, e] of rows.slice(0, SHOW_RULES)) {
    process.stdout.write(`  ${name.padEnd(28)} ${String(e.both).padStart(5)} ${String(e.oursOnly).padStart(5)} ${String(e.saOnly).padStart(5)}  ${set.byName.get(name)?.type ?? ''}: ${why(set, name)}\n`);
  }
  const unloaded = [...saUnloaded].sort((a, b) => b[1] - a[1]);
  process.stdout.write(`\nrules SpamAssassin fired that we do not run (${unloaded.length}): name, messages, why\n`);
  for (const [name, n] of unloaded.slice(0, SHOW_RULES)) {
    const why = skippedNames.has(name) ? set.skipped.find((s) => s.name === name)!.reason : set.byName.has(name) ? 'score 0 in set 0 here' : 'not in the rule files we read';
    process.stdout.write(`  ${name.padEnd(28)} ${String(n).padStart(5)}  ${why}\n`);
  }
  if (EXAMPLES) {
    const e = perRule.get(EXAMPLES);
    process.stdout.write(`\n${EXAMPLES}: ours only ${e?.examplesOurs.join(' ')}; SpamAssassin only ${e?.examplesSa.join(' ')}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
