// Reads SpamAssassin configuration files (*.pre and *.cf) as SpamAssassin itself does:
// every directory's .pre files first (they load plugins), then each directory's .cf
// files in name order, later definitions overriding earlier ones (so an admin's
// local.cf, read last, wins). Comments are cut at an unescaped `#` and `\#` becomes
// `#`; `include` reads another file relative to the current one; ifplugin/if/else/endif
// are evaluated against the plugins the .pre files load and the version and features
// of SpamAssassin 4.0.1, whose rule files these are written for.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export type SaRuleType = 'header' | 'body' | 'rawbody' | 'uri' | 'full' | 'meta' | 'mimeheader';

export interface SaRuleDef {
  name: string;
  type: SaRuleType;
  /** Everything after the rule name. */
  definition: string;
  file: string;
  line: number;
}

export interface SaConfig {
  rules: Map<string, SaRuleDef>;
  describe: Map<string, string>;
  /** The four score sets (net off/on x Bayes off/on), as `score` gave them. */
  scores: Map<string, [number, number, number, number]>;
  tflags: Map<string, Set<string>>;
  priority: Map<string, number>;
  /** ReplaceTags: tag name -> text, and the rules whose patterns they apply to. */
  replaceTags: Map<string, string>;
  replacePre: Map<string, string>;
  replaceInter: Map<string, string>;
  replacePost: Map<string, string>;
  replaceRules: Set<string>;
  replaceStart: string;
  replaceEnd: string;
  /** Plugins loaded with loadplugin. */
  plugins: Set<string>;
  requiredScore: number | null;
  /** Lists of the FreeMail plugin. */
  freemailDomains: Set<string>;
  files: string[];
  /** Directives this loader does not use, by name, with how often they appeared. */
  ignored: Map<string, number>;
  /** Problems found while reading (missing include, unbalanced endif ...). */
  warnings: string[];
}

/** The SpamAssassin release whose rules we read and whose `if (version >= ...)` we answer. */
export const SA_COMPAT_VERSION = 4.000001;

/** Mail::SpamAssassin::Conf feature flags of 4.0.1 (`if can(Mail::SpamAssassin::Conf::...)`). */
const CONF_FEATURES = new Set([
  'feature_originating_ip_headers', 'feature_dns_local_ports_permit_avoid', 'feature_bayes_auto_learn_on_error', 'feature_uri_host_listed',
  'feature_yesno_takes_args', 'feature_bug6558_free', 'feature_edns', 'feature_dns_query_restriction', 'feature_registryboundaries',
  'feature_geodb', 'feature_dns_block_rule', 'feature_compile_regexp', 'feature_meta_rules_matching', 'feature_subjprefix',
  'feature_bayes_stopwords', 'feature_get_host', 'feature_blocklist_welcomelist', 'feature_welcomelist_blocklist',
  'feature_header_address_parser', 'feature_local_tests_only', 'feature_header_first_last', 'feature_header_match_many',
  'feature_capture_rules', 'perl_min_version_5010000',
]);

/** The rule-file directives that define a rule. */
const RULE_TYPES = new Set<SaRuleType>(['header', 'body', 'rawbody', 'uri', 'full', 'meta', 'mimeheader']);

function emptyConfig(): SaConfig {
  return {
    rules: new Map(), describe: new Map(), scores: new Map(), tflags: new Map(), priority: new Map(),
    replaceTags: new Map(), replacePre: new Map(), replaceInter: new Map(), replacePost: new Map(), replaceRules: new Set(),
    replaceStart: '<', replaceEnd: '>', plugins: new Set(), requiredScore: null, freemailDomains: new Set(),
    files: [], ignored: new Map(), warnings: [],
  };
}

/** Evaluates the expression of an `if` line; unknown terms make it false. */
export function evalIfExpression(expr: string, plugins: ReadonlySet<string>): boolean {
  let unknown = false;
  const js = expr
    .replace(/\bplugin\s*\(\s*([\w:]+)\s*\)/g, (_, p: string) => (plugins.has(p) ? '1' : '0'))
    .replace(/\bcan\s*\(\s*([\w:]+)\s*\)/g, (_, name: string) => {
      const m = /^Mail::SpamAssassin::(Conf|Plugin::(\w+))::(\w+)$/.exec(name);
      if (!m) return '0';
      if (m[1] === 'Conf') return CONF_FEATURES.has(m[3]!) ? '1' : '0';
      // A plugin's has_* flag: present when the plugin is loaded (4.0.1 has them all).
      return plugins.has(`Mail::SpamAssassin::Plugin::${m[2]}`) ? '1' : '0';
    })
    .replace(/\bperl_version\b/g, '5.036')
    .replace(/\bversion\b/g, String(SA_COMPAT_VERSION))
    .replace(/\blocal_tests_only\b/g, '1');
  if (!/^[\d.\s()!&|<>=]*$/.test(js)) unknown = true;
  if (unknown) return false;
  try {
    return !!new Function(`return (${js});`)();
  } catch {
    return false;
  }
}

/** Strips a config line's comment and surrounding whitespace, as SpamAssassin's parser does. */
export function cleanLine(line: string): string {
  return line.replace(/(?<!\\)#.*$/, '').replace(/\\#/g, '#').trim();
}

function listCfFiles(dir: string, ext: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith(ext))
      .sort()
      .map((f) => join(dir, f))
      .filter((f) => statSync(f).isFile());
  } catch {
    return [];
  }
}

/** Reads rule files from `dirs` (directories or single files) into one configuration. */
export function readSaConfig(dirs: readonly string[]): SaConfig {
  const conf = emptyConfig();
  const pre = dirs.flatMap((d) => (existsSync(d) && statSync(d).isDirectory() ? listCfFiles(d, '.pre') : []));
  const cf = dirs.flatMap((d) => (!existsSync(d) ? [] : statSync(d).isDirectory() ? listCfFiles(d, '.cf') : [d]));
  for (const f of [...pre, ...cf]) readFile(conf, f, 0);
  return conf;
}

/** Parses rule-file text (tests, and files already read). */
export function parseSaConfigText(text: string, file = 'inline.cf', conf: SaConfig = emptyConfig()): SaConfig {
  parseText(conf, text, file, 0);
  return conf;
}

function readFile(conf: SaConfig, file: string, depth: number): void {
  if (depth > 10) {
    conf.warnings.push(`${file}: include nested too deeply`);
    return;
  }
  let text: string;
  try {
    // latin1: one character per byte, so patterns written as bytes match the UTF-8 octets of the message.
    text = readFileSync(file, 'latin1');
  } catch (err) {
    conf.warnings.push(`${file}: ${(err as Error).message}`);
    return;
  }
  conf.files.push(file);
  parseText(conf, text, file, depth);
}

function parseScore(conf: SaConfig, name: string, values: string[]): void {
  const nums = values.map(Number).filter((x) => Number.isFinite(x));
  if (!nums.length) return;
  const s: [number, number, number, number] = nums.length >= 4 ? [nums[0]!, nums[1]!, nums[2]!, nums[3]!] : [nums[0]!, nums[0]!, nums[0]!, nums[0]!];
  conf.scores.set(name, s);
}

function parseText(conf: SaConfig, text: string, file: string, depth: number): void {
  /** One entry per open if/ifplugin: whether its branch is active. */
  const cond: boolean[] = [];
  const active = () => cond.every(Boolean);
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = cleanLine(lines[n]!);
    if (!line) continue;
    const sp = line.search(/\s/);
    const key = (sp < 0 ? line : line.slice(0, sp)).toLowerCase();
    const rest = sp < 0 ? '' : line.slice(sp).trim();
    if (key === 'ifplugin') {
      cond.push(active() && conf.plugins.has(rest.split(/\s+/)[0]!));
      continue;
    }
    if (key === 'if') {
      cond.push(active() && evalIfExpression(rest, conf.plugins));
      continue;
    }
    if (key === 'else') {
      if (!cond.length) conf.warnings.push(`${file}:${n + 1}: else without if`);
      else {
        const parentActive = cond.slice(0, -1).every(Boolean);
        cond[cond.length - 1] = parentActive && !cond[cond.length - 1];
      }
      continue;
    }
    if (key === 'endif') {
      if (!cond.length) conf.warnings.push(`${file}:${n + 1}: endif without if`);
      else cond.pop();
      continue;
    }
    if (!active()) continue;
    const words = rest.split(/\s+/);
    const name = words[0] ?? '';
    const after = rest.slice(name.length).trim();
    if (RULE_TYPES.has(key as SaRuleType)) {
      conf.rules.set(name, { name, type: key as SaRuleType, definition: after, file, line: n + 1 });
      continue;
    }
    switch (key) {
      case 'describe':
        conf.describe.set(name, after);
        break;
      case 'score':
        parseScore(conf, name, after.split(/\s+/));
        break;
      case 'tflags':
        conf.tflags.set(name, new Set(after.split(/\s+/).filter(Boolean)));
        break;
      case 'priority':
        conf.priority.set(name, Number(after) || 0);
        break;
      case 'loadplugin':
        conf.plugins.add(name);
        break;
      case 'tryplugin':
        conf.plugins.add(name);
        break;
      case 'include':
        readFile(conf, resolve(dirname(file), rest), depth + 1);
        break;
      case 'required_score':
      case 'required_hits':
        conf.requiredScore = Number(name);
        break;
      case 'replace_tag':
        conf.replaceTags.set(name, after);
        break;
      case 'replace_pre':
        conf.replacePre.set(name, after);
        break;
      case 'replace_inter':
        conf.replaceInter.set(name, after);
        break;
      case 'replace_post':
        conf.replacePost.set(name, after);
        break;
      case 'replace_rules':
        for (const r of words) conf.replaceRules.add(r);
        break;
      case 'replace_start':
        conf.replaceStart = name;
        break;
      case 'replace_end':
        conf.replaceEnd = name;
        break;
      case 'freemail_domains':
        for (const d of words) conf.freemailDomains.add(d.toLowerCase());
        break;
      case 'lang':
        // Translated descriptions (lang de describe ...): English only here.
        break;
      default:
        conf.ignored.set(key, (conf.ignored.get(key) ?? 0) + 1);
    }
  }
  if (cond.length) conf.warnings.push(`${file}: ${cond.length} if/ifplugin without endif`);
}
