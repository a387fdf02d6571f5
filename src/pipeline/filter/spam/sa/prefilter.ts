// A cheap test that rules most regexes out before they run: the literal strings one of
// which every match must contain ("viagra", or one of "unsubscribe" | "opt out"),
// found once per rule set load by reading the translated JavaScript pattern. A rule
// whose literals are all absent from the lowercased text cannot match, and its regex is
// not run: most rules miss most messages, and indexOf over a few kilobytes is far
// cheaper than a regex scan (the role hyperscan plays for Rspamd).
//
// The analysis is conservative: anything it does not understand contributes no literal,
// and literals are compared lowercased against lowercased text, which is only ever a
// weaker condition than the pattern's own (case-sensitive or not).

/** One of these must occur (lowercased) in the text for the regex to match; null: no such set. */
export type RequiredLiterals = string[] | null;

const MIN_LITERAL = 3;
const MAX_ALTERNATIVES = 12;

interface Parser {
  s: string;
  i: number;
}

/** Score of a literal set: the shortest alternative, less a little per alternative. */
function quality(set: string[] | null): number {
  if (!set || !set.length) return -1;
  const shortest = Math.min(...set.map((x) => x.length));
  if (shortest < MIN_LITERAL) return -1;
  return shortest - set.length * 0.1;
}

function better(a: string[] | null, b: string[] | null): string[] | null {
  return quality(b) > quality(a) ? b : a;
}

/** Reads one escape; returns the literal character it stands for, or null for a class (\w, \d, \b ...). */
function readEscape(p: Parser): string | null {
  const c = p.s[p.i + 1] ?? '';
  p.i += 2;
  if (c === 'x') {
    const h = p.s.slice(p.i, p.i + 2);
    p.i += 2;
    return String.fromCharCode(parseInt(h, 16));
  }
  if (c === 'u') {
    const h = p.s.slice(p.i, p.i + 4);
    p.i += 4;
    return String.fromCharCode(parseInt(h, 16));
  }
  if (c === 'k') {
    const close = p.s.indexOf('>', p.i);
    p.i = close < 0 ? p.s.length : close + 1;
    return null;
  }
  if (/[0-9]/.test(c)) {
    while (/[0-9]/.test(p.s[p.i] ?? '')) p.i++;
    return null;
  }
  if (/[a-zA-Z]/.test(c)) {
    if (c === 'n') return '\n';
    if (c === 't') return '\t';
    if (c === 'r') return '\r';
    if (c === 'f') return '\f';
    if (c === 'c') p.i++;
    return null; // \w \d \s \b ...
  }
  return c;
}

function skipClass(p: Parser): void {
  p.i++;
  if (p.s[p.i] === '^') p.i++;
  if (p.s[p.i] === ']') p.i++;
  while (p.i < p.s.length && p.s[p.i] !== ']') p.i += p.s[p.i] === '\\' ? 2 : 1;
  p.i++;
}

/** Reads a quantifier at p.i; returns its minimum count (1 when there is none). */
function readQuantifier(p: Parser): number {
  const c = p.s[p.i];
  let min = 1;
  if (c === '*' || c === '?') {
    min = 0;
    p.i++;
  } else if (c === '+') p.i++;
  else if (c === '{') {
    const m = /^\{(\d+)(?:,\d*)?\}/.exec(p.s.slice(p.i, p.i + 20));
    if (!m) return 1;
    min = Number(m[1]);
    p.i += m[0].length;
  } else return 1;
  if (p.s[p.i] === '?' || p.s[p.i] === '+') p.i++;
  return min;
}

/** Parses alternatives until `)` or the end; returns the required literal set of the whole. */
function parseAlternation(p: Parser): string[] | null {
  const alts: (string[] | null)[] = [parseSequence(p)];
  while (p.s[p.i] === '|') {
    p.i++;
    alts.push(parseSequence(p));
  }
  if (alts.some((a) => quality(a) < 0)) return null;
  const union = [...new Set(alts.flat() as string[])];
  return union.length > MAX_ALTERNATIVES ? null : union;
}

function parseSequence(p: Parser): string[] | null {
  let best: string[] | null = null;
  let run = '';
  const flush = () => {
    if (run) best = better(best, [run]);
    run = '';
  };
  while (p.i < p.s.length) {
    const c = p.s[p.i]!;
    if (c === '|' || c === ')') break;
    if (c === '(') {
      p.i++;
      let zeroWidth = false;
      if (p.s[p.i] === '?') {
        const k = p.s.slice(p.i, p.i + 3);
        if (k.startsWith('?=') || k.startsWith('?!') || k.startsWith('?<=') || k.startsWith('?<!')) zeroWidth = true;
        if (k.startsWith('?<=') || k.startsWith('?<!')) p.i += 3;
        else if (k.startsWith('?<')) p.i = p.s.indexOf('>', p.i) + 1;
        else p.i += 2;
      }
      const inner = parseAlternation(p);
      p.i++; // ')'
      const min = readQuantifier(p);
      flush();
      if (!zeroWidth && min >= 1) best = better(best, inner);
      continue;
    }
    if (c === '[') {
      skipClass(p);
      readQuantifier(p);
      flush();
      continue;
    }
    let ch: string | null;
    if (c === '\\') ch = readEscape(p);
    else {
      p.i++;
      ch = c === '.' || c === '^' || c === '$' ? null : c;
    }
    // A quantifier applies to the last character only.
    const q = p.s[p.i];
    if (q === '*' || q === '?' || q === '+' || (q === '{' && /^\{\d+(?:,\d*)?\}/.test(p.s.slice(p.i, p.i + 20)))) {
      const min = readQuantifier(p);
      if (ch !== null && min >= 1) run += ch;
      flush();
      continue;
    }
    if (ch === null) flush();
    else run += ch;
  }
  flush();
  return best;
}

/** The literals (lowercase) one of which any match of `source` contains, or null. */
export function requiredLiterals(source: string): RequiredLiterals {
  try {
    const p: Parser = { s: source, i: 0 };
    const set = parseAlternation(p);
    if (p.i < source.length || quality(set) < 0) return null;
    return [...new Set(set!.map((x) => x.toLowerCase()))];
  } catch {
    return null;
  }
}

/** True when some literal of the set occurs in `lower` (a lowercased text), or there is no set. */
export function mayMatch(lits: RequiredLiterals, lower: string): boolean {
  if (!lits) return true;
  for (const l of lits) if (lower.includes(l)) return true;
  return false;
}
