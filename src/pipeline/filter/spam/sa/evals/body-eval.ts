// BodyEval and ImageInfo: figures of the body text (stock-tip field labels, blank lines,
// letter-spaced words, capitals, text/plain against text/html of an alternative) and
// of the images a message carries.
import type { SaEvalFn } from './types.ts';
import type { SaMessage } from '../message.ts';
import { shortParagraphs } from '../message.ts';
import { splitHeaderBody, type SaMimePart } from '../mime.ts';

const STOCK_LABEL = /^(?:trad(?:e|ing)date|company(?:name)?|s\w?(?:t\w?o\w?c\w?k|y\w?m(?:\w?b\w?o\w?l)?)|t(?:arget|icker)|(?:opening|current)p(?:rice)?|p(?:rojected|osition)|expectations|weeks?high|marketperformance|(?:year|week|month|day|price)(?:target|estimates?)|sector|r(?:ecommendation|ating))$/;

/** How many distinct stock-tip labels ("Symbol:", "Target Price:") the first text/plain part has. */
export function stockInfo(m: SaMessage): number {
  const part = m.parts.find((p) => p.type === 'text/plain' && !p.children.length);
  if (!part) return 0;
  const hits = new Set<string>();
  for (const chunk of shortParagraphs(part.decoded)) {
    for (const x of chunk.matchAll(/^\s*([^:\s][^:\n]{2,29})\s*:\s*\S/gm)) {
      const label = x[1]!.toLowerCase().replace(/[^a-z]/g, '');
      const s = STOCK_LABEL.exec(label);
      if (s) hits.add(s[0]);
    }
  }
  return hits.size;
}

/** Words of a part's rendered text, as a multiset. */
function words(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const w of text.split(/\s+/)) if (/\w/.test(w)) out.set(w, (out.get(w) ?? 0) + 1);
  return out;
}

interface MaDiff { diff: number; html: number; text: number }
const maCache = new WeakMap<SaMessage, MaDiff>();

/** Share (%) of the HTML alternative's distinct words missing from the text alternative. */
export function multipartAlternativeDifference(m: SaMessage): MaDiff {
  const known = maCache.get(m);
  if (known) return known;
  const r: MaDiff = { diff: 0, html: 0, text: 0 };
  const alts = m.parts.filter((p) => p.type === 'multipart/alternative');
  for (const alt of alts) {
    const texts: SaMimePart[] = [];
    const walk = (p: SaMimePart) => {
      if (p.type.startsWith('text')) texts.push(p);
      p.children.forEach(walk);
    };
    alt.children.forEach(walk);
    let html = new Map<string, number>();
    const text = new Map<string, number>();
    for (const t of texts) {
      if (t.type === 'text/html') {
        const h = m.html(t);
        for (const [w, n] of words(`${h.visibleText} ${h.hiddenText}`)) html.set(w, (html.get(w) ?? 0) + n);
        if (!html.size && h.images) html.set('\n', 1);
      } else {
        for (const [w, n] of words(t.decoded)) text.set(w, (text.get(w) ?? 0) + n);
      }
    }
    const orig = html.size;
    if (!orig) continue;
    r.html = orig;
    r.text = text.size;
    html = new Map([...html].filter(([w, n]) => !(text.has(w) && n - text.get(w)! < 1)));
    const diff = (html.size / orig) * 100;
    if (diff > r.diff) r.diff = diff;
  }
  maCache.set(m, r);
  return r;
}

/** Body lines as SpamAssassin's body rules see them (Subject first). */
function bodyLines(m: SaMessage): string[] {
  return m.body.split('\n');
}

function uppercasePercent(m: SaMessage): number {
  let len = 0;
  let lower = 0;
  let upper = 0;
  for (const line0 of bodyLines(m)) {
    if (!/\S\s+\S/.test(line0) || /^(?:[A-Za-z0-9+/=]{60,76} ){2}/.test(line0)) continue;
    const line = line0.replace(/\x1b\$B.*\x1b\(B/gs, '');
    len += line.length;
    lower += line.match(/[a-z0-9]/g)?.length ?? 0;
    upper += line.match(/[A-Z]/g)?.length ?? 0;
  }
  if (len < 200 || upper + lower === 0) return 0;
  return (upper / (upper + lower)) * 100;
}

/** Image parts by type (gif, jpeg, png; "all"). */
function images(m: SaMessage): { type: string }[] {
  const out: { type: string }[] = [];
  for (const p of m.leaves) {
    const t = /^image\/(\w+)/.exec(p.type)?.[1];
    if (!t) continue;
    out.push({ type: t === 'jpg' || t === 'pjpeg' ? 'jpeg' : t });
  }
  return out;
}

export const BODY_EVALS: Record<string, SaEvalFn> = {
  check_stock_info: (m, [min]) => {
    const n = stockInfo(m);
    return Number(min) === 0 || n >= Number(min);
  },
  check_body_length: (m, [max]) => splitHeaderBody(m.raw.replace(/\r\n/g, '\n')).body.length <= Number(max),
  check_blank_line_ratio: (m, [min, max, minlines0]) => {
    const minlines = Math.max(1, Number(minlines0) || 1);
    let blank = 0;
    let n = 0;
    for (const p of m.leaves) {
      if (!p.type.startsWith('text/')) continue;
      const text = p.type === 'text/html' ? m.html(p).visibleText : p.decoded;
      for (const l of text.split(/(?<=\n)/)) {
        n++;
        if (!/\S/.test(l)) blank++;
      }
    }
    const ratio = n < minlines ? -1 : (100 * blank) / n;
    return (Number(min) === 0 && ratio <= Number(max)) || (ratio > Number(min) && ratio <= Number(max));
  },
  tvd_vertical_words: (m, [min, max0]) => {
    const max = Number(max0) >= 100 ? 101 : Number(max0);
    let v = -1;
    for (const l of bodyLines(m)) {
      if (l.length + 1 <= 5) continue;
      const spaces = l.split(' ').length - 1;
      const non = l.length + 1 - spaces;
      const pct = spaces > non || non === 0 ? 100 : Math.trunc((100 * spaces) / non);
      if (pct > v) v = pct;
    }
    return v >= Number(min) && v < max;
  },
  check_for_uppercase: (m, [min, max]) => {
    const u = uppercasePercent(m);
    return u > Number(min) && u <= Number(max);
  },
  multipart_alternative_difference: (m, [min, max]) => {
    const d = multipartAlternativeDifference(m).diff;
    return (Number(min) === 0 || d > Number(min)) && (max === 'undef' || d <= Number(max));
  },
  multipart_alternative_difference_count: (m, [ratio, minhtml]) => {
    const d = multipartAlternativeDifference(m);
    return d.html > Number(minhtml) && d.text / d.html > Number(ratio);
  },
  image_count: (m, [type, min, max]) => {
    const n = images(m).filter((i) => type === 'all' || i.type === type).length;
    return n >= Number(min) && (max === undefined || max === '' || n <= Number(max));
  },
  // Image dimensions need the image bytes decoded; without them these never hit.
  pixel_coverage: () => false,
  image_to_text_ratio: () => false,
};
