// Perl regular expressions (as SpamAssassin rule files write them) translated into
// JavaScript ones, once per rule set load. What differs and how it is handled:
//  - `$` without /m matches at the end or before a final newline, `\z`, `\Z`, `\A`:
//    written out as lookarounds; `.` never matches "\n" (JS also refuses "\r"): `[^\n]`;
//  - inline modifiers (?i) (?s) (?m) (?x), also scoped (?i:...): s, m and x are applied
//    by this translator, a scoped i by spelling letters in both cases;
//  - \h \H \v \V \R \Q..\E \x{...} \e \N, POSIX classes [[:alpha:]], a leading `]` in a
//    class, (?P<name>...), (?#comments), the /x flag;
//  - possessive quantifiers (a++) and atomic groups (?>...) become ordinary ones: they
//    only change how a failing match backtracks, almost never whether a pattern matches
//    (counted as approximations);
//  - what JavaScript cannot express (\G, \K, recursion, conditionals, code blocks,
//    \p{...} properties) makes the rule untranslatable: it is skipped and counted.
// Line mode (body and rawbody rules) runs one regex over all lines joined with "\n", as
// SpamAssassin runs it over each line: anchors work per line and nothing that SA would
// keep inside one line (\s, negated classes, `.`) may cross a newline.

export interface PerlRegexOptions {
  /** Match per line over text joined with "\n" (body, rawbody). */
  lineMode?: boolean;
}

export interface TranslatedRegex {
  source: string;
  flags: string;
  /** Constructs that were approximated (possessive, atomic). */
  approximations: string[];
}

export class UntranslatableRegex extends Error {
  override name = 'UntranslatableRegex';
}

interface Scope {
  i: boolean;
  m: boolean;
  s: boolean;
  x: boolean;
}

const POSIX: Record<string, string> = {
  alpha: 'a-zA-Z', digit: '0-9', alnum: 'a-zA-Z0-9', upper: 'A-Z', lower: 'a-z', space: '\\s', blank: ' \\t',
  punct: '!-\\/:-@\\[-`{-~', xdigit: '0-9A-Fa-f', word: '\\w', cntrl: '\\x00-\\x1f\\x7f', print: '\\x20-\\x7e', graph: '\\x21-\\x7e',
};

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** A code point as a JS escape usable inside and outside classes (non-unicode mode). */
function codeEscape(cp: number): string {
  if (cp <= 0xff) return `\\x${hex2(cp)}`;
  if (cp <= 0xffff) return `\\u${cp.toString(16).padStart(4, '0')}`;
  const s = String.fromCodePoint(cp);
  return `\\u${s.charCodeAt(0).toString(16)}\\u${s.charCodeAt(1).toString(16)}`;
}

function escapeLiteral(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/-]/g, (c) => `\\${c}`);
}

function bothCases(ch: string): string {
  const lo = ch.toLowerCase();
  const up = ch.toUpperCase();
  return lo !== up && lo.length === 1 && up.length === 1 ? `[${lo}${up}]` : escapeLiteral(ch);
}

/** Translates a Perl pattern (without delimiters) with its modifier letters. */
export function translatePerlRegex(pattern: string, modifiers: string, opts: PerlRegexOptions = {}): TranslatedRegex {
  const line = !!opts.lineMode;
  const approximations: string[] = [];
  const global: Scope = { i: modifiers.includes('i'), m: modifiers.includes('m'), s: modifiers.includes('s'), x: modifiers.includes('x') };
  // A leading (?flags) sets them for the whole pattern, which JS can take as flags.
  let p = pattern;
  for (let lead = /^\(\?\^?([imsx]+)\)/.exec(p); lead; lead = /^\(\?\^?([imsx]+)\)/.exec(p)) {
    for (const f of lead[1]!) global[f as keyof Scope] = true;
    p = p.slice(lead[0].length);
  }
  const stack: Scope[] = [{ ...global }];
  /** For each open group: whether it pushed a scope. */
  const groups: boolean[] = [];
  let out = '';
  let i = 0;
  const cur = () => stack[stack.length - 1]!;
  const n = p.length;

  const readHexBrace = (at: number): { cp: number; end: number } => {
    const close = p.indexOf('}', at);
    if (close < 0) throw new UntranslatableRegex('unterminated \\x{');
    const cp = parseInt(p.slice(at + 1, close).trim() || '0', 16);
    if (!Number.isFinite(cp)) throw new UntranslatableRegex('bad \\x{...}');
    return { cp, end: close + 1 };
  };

  /** One escape sequence at p[i] === '\\'; returns [translation, next index]. inClass: inside [...]. */
  const escape = (at: number, inClass: boolean): [string, number] => {
    const c = p[at + 1];
    if (c === undefined) throw new UntranslatableRegex('trailing backslash');
    switch (c) {
      case 'A': if (inClass) break; return [cur().m && line ? '(?<![^\\n])' : '(?<![\\s\\S])', at + 2];
      case 'z': if (inClass) break; return [line ? '(?![^\\n])' : '(?![\\s\\S])', at + 2];
      case 'Z': if (inClass) break; return [line ? '(?![^\\n])' : '(?=\\n?(?![\\s\\S]))', at + 2];
      case 'h': return [inClass ? '\\t \\xa0' : '[\\t \\xa0]', at + 2];
      case 'H': if (inClass) throw new UntranslatableRegex('\\H in a class'); return ['[^\\t \\xa0\\n]', at + 2];
      case 'v': return [inClass ? '\\n\\x0b\\f\\r\\x85' : '[\\n\\x0b\\f\\r\\x85]', at + 2];
      case 'V': if (inClass) throw new UntranslatableRegex('\\V in a class'); return ['[^\\n\\x0b\\f\\r\\x85]', at + 2];
      case 'R': if (inClass) break; return ['(?:\\r\\n|[\\n\\x0b\\f\\r\\x85])', at + 2];
      case 'N': if (inClass || p[at + 2] === '{') throw new UntranslatableRegex('\\N{...}'); return ['[^\\n]', at + 2];
      case 'e': return ['\\x1b', at + 2];
      case 'a': return ['\\x07', at + 2];
      case 's': if (line && !inClass) return ['[^\\S\\n]', at + 2]; break;
      case 'W': if (line && !inClass) return ['[^\\w\\n]', at + 2]; break;
      case 'D': if (line && !inClass) return ['[^\\d\\n]', at + 2]; break;
      case 'x': {
        if (p[at + 2] === '{') {
          const { cp, end } = readHexBrace(at + 2);
          return [codeEscape(cp), end];
        }
        const m = /^[0-9a-fA-F]{1,2}/.exec(p.slice(at + 2, at + 4));
        if (!m) return ['\\x00', at + 2];
        return [`\\x${m[0].padStart(2, '0')}`, at + 2 + m[0].length];
      }
      case '0': {
        const m = /^[0-7]{0,2}/.exec(p.slice(at + 2, at + 4))!;
        return [`\\x${hex2(parseInt(`0${m[0]}`, 8))}`, at + 2 + m[0].length];
      }
      case 'o': {
        if (p[at + 2] !== '{') break;
        const close = p.indexOf('}', at);
        return [codeEscape(parseInt(p.slice(at + 3, close), 8)), close + 1];
      }
      case 'g': {
        const m = /^(?:\{(-?\d+)\}|(\d+))/.exec(p.slice(at + 2));
        if (!m || (m[1] ?? m[2])!.startsWith('-')) throw new UntranslatableRegex('\\g{name} or relative backreference');
        return [`\\${m[1] ?? m[2]}`, at + 2 + m[0].length];
      }
      case 'k': break;
      case 'G': case 'K': case 'X': case 'p': case 'P': case 'C': case 'l': case 'u': case 'L': case 'U':
        throw new UntranslatableRegex(`\\${c} has no JavaScript equivalent`);
      default:
        if (/[1-9]/.test(c)) {
          if (inClass) {
            const m = /^[0-7]{1,3}/.exec(p.slice(at + 1))!;
            return [`\\x${hex2(parseInt(m[0], 8) & 0xff)}`, at + 1 + m[0].length];
          }
          const m = /^\d+/.exec(p.slice(at + 1))!;
          return [`\\${m[0]}`, at + 1 + m[0].length];
        }
    }
    return [`\\${c}`, at + 2];
  };

  const readClass = (): void => {
    // p[i] === '['
    let j = i + 1;
    let negated = false;
    if (p[j] === '^') {
      negated = true;
      j++;
    }
    let body = '';
    let first = true;
    let hasWideSpace = false;
    const scopedI = cur().i && !global.i;
    for (;;) {
      if (j >= n) throw new UntranslatableRegex('unterminated character class');
      const c = p[j]!;
      if (c === ']' && !first) {
        j++;
        break;
      }
      first = false;
      if (c === '[' && p[j + 1] === ':') {
        const close = p.indexOf(':]', j + 2);
        const name = close > 0 ? p.slice(j + 2, close) : '';
        if (name.startsWith('^')) throw new UntranslatableRegex('negated POSIX class');
        const exp = POSIX[name];
        if (exp === undefined) throw new UntranslatableRegex(`unknown POSIX class [:${name}:]`);
        if (name === 'space') hasWideSpace = true;
        body += exp;
        j = close + 2;
        continue;
      }
      if (c === '\\') {
        const [t, next] = escape(j, true);
        if (t === '\\s' || t === '\\W' || t === '\\D') hasWideSpace = true;
        body += t;
        j = next;
        continue;
      }
      if (c === ']' || c === '[') {
        body += `\\${c}`;
        j++;
        continue;
      }
      if (scopedI && /[a-zA-Z]/.test(c)) {
        // A letter or a letter range, in both cases.
        if (p[j + 1] === '-' && /[a-zA-Z]/.test(p[j + 2] ?? '')) {
          const a = c, b = p[j + 2]!;
          body += `${a.toLowerCase()}-${b.toLowerCase()}${a.toUpperCase()}-${b.toUpperCase()}`;
          j += 3;
        } else {
          body += c.toLowerCase() + c.toUpperCase();
          j++;
        }
        continue;
      }
      body += c;
      j++;
    }
    if (negated) out += line ? `[^${body}\\n]` : `[^${body}]`;
    else if (line && hasWideSpace) out += `(?:(?!\\n)[${body}])`;
    else out += `[${body}]`;
    i = j;
  };

  while (i < n) {
    const c = p[i]!;
    const sc = cur();
    if (sc.x && (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f')) {
      i++;
      continue;
    }
    if (sc.x && c === '#') {
      const nl = p.indexOf('\n', i);
      i = nl < 0 ? n : nl + 1;
      continue;
    }
    switch (c) {
      case '\\': {
        if (p[i + 1] === 'Q') {
          const end = p.indexOf('\\E', i + 2);
          const lit = p.slice(i + 2, end < 0 ? n : end);
          out += sc.i && !global.i ? [...lit].map(bothCases).join('') : escapeLiteral(lit);
          i = end < 0 ? n : end + 2;
          continue;
        }
        if (p[i + 1] === 'E') {
          i += 2;
          continue;
        }
        const [t, next] = escape(i, false);
        out += t;
        i = next;
        continue;
      }
      case '[':
        readClass();
        continue;
      case '.':
        out += sc.s && !line ? '[\\s\\S]' : '[^\\n]';
        i++;
        continue;
      case '^':
        out += sc.m || line ? '(?<![^\\n])' : '^';
        i++;
        continue;
      case '$':
        if (/[A-Za-z_{]/.test(p[i + 1] ?? '')) throw new UntranslatableRegex('Perl variable interpolation');
        out += sc.m || line ? '(?![^\\n])' : '(?=\\n?(?![\\s\\S]))';
        i++;
        continue;
      case '(': {
        if (p[i + 1] !== '?') {
          if (p[i + 1] === '*') throw new UntranslatableRegex('backtracking control verb (*...)');
          groups.push(false);
          out += '(';
          i++;
          continue;
        }
        const at = i + 2;
        if (p[at] === '#') {
          const close = p.indexOf(')', i);
          i = close < 0 ? n : close + 1;
          continue;
        }
        const look = /:|=|!|<=|<!/y;
        look.lastIndex = at;
        const lm = look.exec(p);
        if (lm) {
          out += `(?${lm[0]}`;
          groups.push(false);
          i = at + lm[0].length;
          continue;
        }
        const named = /P?<([A-Za-z_]\w*)>|'([A-Za-z_]\w*)'/y;
        named.lastIndex = at;
        let m = named.exec(p);
        if (m) {
          out += `(?<${m[1] ?? m[2]}>`;
          groups.push(false);
          i = at + m[0].length;
          continue;
        }
        const backref = /P=([A-Za-z_]\w*)\)/y;
        backref.lastIndex = at;
        m = backref.exec(p);
        if (m) {
          out += `\\k<${m[1]}>`;
          i = at + m[0].length;
          continue;
        }
        if (p[at] === '>') {
          approximations.push('atomic group');
          out += '(?:';
          groups.push(false);
          i = at + 1;
          continue;
        }
        const flagRe = /\^?([imsxn]*)(?:-([imsx]*))?([:)])/y;
        flagRe.lastIndex = at;
        m = flagRe.exec(p);
        if (m) {
          const next: Scope = { ...sc };
          for (const f of m[1]!) if (f !== 'n') next[f as keyof Scope] = true;
          for (const f of m[2] ?? '') next[f as keyof Scope] = false;
          // A scoped i is spelt out letter by letter; an i switched off inside a pattern
          // that is case-insensitive as a whole cannot be.
          if (!next.i && global.i) throw new UntranslatableRegex('(?-i) inside a case-insensitive pattern');
          i = at + m[0].length;
          if (m[3] === ')') {
            // (?flags) in the middle: applies to the end of the enclosing group.
            stack[stack.length - 1] = next;
            continue;
          }
          stack.push(next);
          groups.push(true);
          out += '(?:';
          continue;
        }
        throw new UntranslatableRegex(`(?${p.slice(at, at + 2)}... has no JavaScript equivalent`);
      }
      case ')':
        if (groups.pop()) stack.pop();
        out += ')';
        i++;
        continue;
      case '{': {
        // A quantifier {n}, {n,}, {n,m} (possibly possessive); otherwise a literal brace.
        const q = /\{\d+(?:,\d*)?\}/y;
        q.lastIndex = i;
        const m = q.exec(p);
        if (!m) {
          out += '\\{';
          i++;
          continue;
        }
        out += m[0];
        i += m[0].length;
        if (p[i] === '+') {
          approximations.push('possessive quantifier');
          i++;
        }
        continue;
      }
      case '}':
        out += '\\}';
        i++;
        continue;
      case '*':
      case '+':
      case '?':
        out += c;
        i++;
        if (p[i] === '+') {
          approximations.push('possessive quantifier');
          i++;
        }
        continue;
      case '/':
        out += '\\/';
        i++;
        continue;
      default:
        if (sc.i && !global.i && /[a-zA-Z]/.test(c)) out += bothCases(c);
        else out += c;
        i++;
    }
  }
  const flags = global.i ? 'i' : '';
  return { source: out, flags, approximations };
}

/** A regex literal as rule files write it: /re/flags, m{re}flags, m!re!flags ... */
export interface PerlRegexLiteral {
  pattern: string;
  modifiers: string;
  /** Text after the literal (a header rule's [if-unset: ...]). */
  rest: string;
}

const CLOSERS: Record<string, string> = { '{': '}', '(': ')', '[': ']', '<': '>' };

export function parsePerlRegexLiteral(text: string): PerlRegexLiteral | null {
  let s = text.trim();
  let open: string;
  if (s.startsWith('/')) {
    open = '/';
    s = s.slice(1);
  } else if (s.startsWith('m') && s.length > 1 && !/[\w\s]/.test(s[1]!)) {
    open = s[1]!;
    s = s.slice(2);
  } else return null;
  const close = CLOSERS[open] ?? open;
  let depth = 0;
  let pattern = '';
  let j = 0;
  for (; j < s.length; j++) {
    const c = s[j]!;
    if (c === '\\' && j + 1 < s.length) {
      // An escaped delimiter is the delimiter itself (keep the escape for other characters).
      const d = s[j + 1]!;
      pattern += d === open || d === close ? (/[\w\s]/.test(d) ? d : `\\${d}`) : `\\${d}`;
      j++;
      continue;
    }
    if (close !== open && c === open) depth++;
    else if (c === close) {
      if (depth === 0) break;
      depth--;
    }
    pattern += c;
  }
  if (j >= s.length) return null;
  const after = s.slice(j + 1);
  const mods = /^[a-zA-Z]*/.exec(after)![0];
  return { pattern, modifiers: mods, rest: after.slice(mods.length).trim() };
}

/** Compiles a rule's regex literal; throws UntranslatableRegex (or SyntaxError from RegExp). */
export function compilePerlRegex(literal: PerlRegexLiteral, opts: PerlRegexOptions & { global?: boolean } = {}): { re: RegExp; approximations: string[] } {
  const t = translatePerlRegex(literal.pattern, literal.modifiers, opts);
  const re = new RegExp(t.source, t.flags + (opts.global ? 'g' : ''));
  return { re, approximations: t.approximations };
}
