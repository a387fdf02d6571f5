// HTMLEval: tests over SpamAssassin's figures of each HTML part (html-stats.ts). A test
// hits when any one HTML part passes it.
import type { SaEvalFn } from './types.ts';
import type { SaMessage } from '../message.ts';
import { htmlResult, saHtmlStats, type SaHtmlStats } from '../html-stats.ts';
import { compilePerlRegex } from '../perl-regex.ts';

const cache = new WeakMap<SaMessage, SaHtmlStats[]>();

/** SpamAssassin's figures of each text/html leaf of the message. */
export function htmlStats(m: SaMessage): SaHtmlStats[] {
  let s = cache.get(m);
  if (!s) {
    s = m.leaves.filter((p) => p.type === 'text/html').map((p) => saHtmlStats(p.decoded));
    cache.set(m, s);
  }
  return s;
}

/** `$val <op> N` as the rule gives it ("!= 0", "> 2", "== 1"); false when not understood. */
export function compareExpr(val: number, expr: string): boolean {
  const m = /^\s*(==|!=|>=|<=|>|<)\s*([-+]?\d+)\s*$/.exec(expr);
  if (!m) return false;
  const n = Number(m[2]);
  switch (m[1]) {
    case '==': return val === n;
    case '!=': return val !== n;
    case '>=': return val >= n;
    case '<=': return val <= n;
    case '>': return val > n;
    default: return val < n;
  }
}

const textRegexes = new Map<string, RegExp | null>();
function textRegex(src: string): RegExp | null {
  if (!textRegexes.has(src)) {
    try {
      textRegexes.set(src, compilePerlRegex({ pattern: src, modifiers: '', rest: '' }, { lineMode: false, global: false }).re);
    } catch {
      textRegexes.set(src, null);
    }
  }
  return textRegexes.get(src)!;
}

export const HTML_EVALS: Record<string, SaEvalFn> = {
  html_test: (m, [test]) => htmlStats(m).some((s) => !!htmlResult(s, test ?? '')),
  html_range: (m, [test, min, max]) =>
    htmlStats(m).some((s) => {
      const v = htmlResult(s, test ?? '');
      if (typeof v !== 'number') return false;
      if (max === undefined || max === 'inf') return v > Number(min);
      return v > Number(min) && v <= Number(max);
    }),
  html_eval: (m, [test, expr]) =>
    htmlStats(m).some((s) => {
      const v = htmlResult(s, test ?? '');
      return typeof v === 'number' && compareExpr(v, expr ?? '');
    }),
  html_tag_exists: (m, [tag]) => htmlStats(m).some((s) => s.inside.has(tag ?? '')),
  html_tag_balance: (m, [tag, expr]) => htmlStats(m).some((s) => s.inside.has(tag ?? '') && compareExpr(s.inside.get(tag!)!, expr ?? '')),
  html_image_only: (m, [min, max]) => htmlStats(m).some((s) => s.inside.has('img') && s.length > Number(min) && s.length <= Number(max)),
  html_image_ratio: (m, [min, max]) =>
    htmlStats(m).some((s) => {
      if (!(s.imageArea > 0)) return false;
      const r = s.nonSpaceLen / s.imageArea;
      return r > Number(min) && r <= Number(max);
    }),
  html_text_match: (m, [what, re]) => {
    const rx = textRegex(re ?? '');
    if (!rx) return false;
    return htmlStats(m).some((s) => (what === 'comment' ? s.comments : what === 'title' ? s.titles : []).some((t) => rx.test(t)));
  },
  html_title_subject_ratio: (m, [ratio]) => {
    const subject = m.get('Subject') ?? '';
    if (!subject) return false;
    return htmlStats(m).some((s) => Math.max(0, ...s.titles.filter(Boolean).map((t) => t.length / subject.length)) > Number(ratio));
  },
  html_charset_faraway: () => false, // ok_locales "all": nothing is far away
  check_iframe_src: (m) => htmlStats(m).some((s) => s.iframeSrcs.length > 0),
};
