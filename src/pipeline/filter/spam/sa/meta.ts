// Meta rules: boolean and arithmetic expressions over other rules' hit counts
// (`(__A && !__B) || __C + __D > 1`), compiled once into a function that asks for each
// count when it needs it, so that `&&` and `||` short-circuit and a sub-rule nothing
// needs is never run. Only rule names, numbers, parentheses and the operators
// SpamAssassin allows are accepted, so the generated code cannot be anything but arithmetic.

export interface CompiledMeta {
  /** Rule names the expression reads; `count(i)` is asked for deps[i]. */
  deps: string[];
  evaluate(count: (i: number) => number): number;
}

const TOKEN_RE = /\s*(&&|\|\||>=|<=|==|!=|[()!<>+\-*/]|\d+(?:\.\d+)?|[A-Za-z_][A-Za-z0-9_]*)/y;

export class MetaSyntaxError extends Error {
  override name = 'MetaSyntaxError';
}

export function compileMeta(expression: string): CompiledMeta {
  const deps: string[] = [];
  const index = new Map<string, number>();
  let js = '';
  TOKEN_RE.lastIndex = 0;
  let pos = 0;
  const text = expression.trim();
  while (pos < text.length) {
    TOKEN_RE.lastIndex = pos;
    const m = TOKEN_RE.exec(text);
    if (!m) throw new MetaSyntaxError(`unexpected "${text.slice(pos, pos + 10)}"`);
    pos = TOKEN_RE.lastIndex;
    const t = m[1]!;
    if (/^[A-Za-z_]/.test(t)) {
      if (t === 'rules_matching') throw new MetaSyntaxError('rules_matching() is not supported');
      if (t === 'local_tests_only') {
        js += ' 1 ';
        continue;
      }
      let i = index.get(t);
      if (i === undefined) {
        i = deps.length;
        deps.push(t);
        index.set(t, i);
      }
      js += ` c(${i}) `;
    } else js += ` ${t} `;
    while (pos < text.length && /\s/.test(text[pos]!)) pos++;
  }
  if (!js.trim()) throw new MetaSyntaxError('empty expression');
  let fn: (c: (i: number) => number) => unknown;
  try {
    fn = new Function('c', `return (${js});`) as (c: (i: number) => number) => unknown;
    fn(() => 0);
  } catch (err) {
    throw new MetaSyntaxError((err as Error).message);
  }
  return { deps, evaluate: (c) => Number(fn(c)) || 0 };
}
