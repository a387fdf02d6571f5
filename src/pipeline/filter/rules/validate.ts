// Checking an admin's rule before it is stored, with errors that say what to fix; and
// compiling its conditions once (regular expressions built a single time per rule).
import { RULE_ACTIONS, RULE_FIELDS, RULE_OPS, type MessageRule, type RuleCondition } from './types.ts';

const ADDRESS_RE = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;
const HEADER_NAME_RE = /^[!-9;-~]+$/;

export function validateRule(r: MessageRule): void {
  if (!/^[a-z0-9][a-z0-9._-]{0,63}$/i.test(r.name)) throw new Error(`rule name "${r.name}": use letters, digits, ".", "_" and "-" (at most 64)`);
  if (r.match !== 'all' && r.match !== 'any') throw new Error(`rule ${r.name}: match must be "all" or "any"`);
  if (!Number.isInteger(r.priority)) throw new Error(`rule ${r.name}: priority must be a whole number`);
  if (!r.conditions.length) throw new Error(`rule ${r.name}: give at least one condition`);
  if (!r.actions.length) throw new Error(`rule ${r.name}: give at least one action`);
  r.conditions.forEach((c, i) => validateCondition(r.name, i + 1, c));
  for (const a of r.actions) {
    if (!RULE_ACTIONS.includes(a.action)) throw new Error(`rule ${r.name}: unknown action "${a.action}" (known: ${RULE_ACTIONS.join(', ')})`);
    switch (a.action) {
      case 'score':
        if (typeof a.value !== 'number' || !Number.isFinite(a.value) || Math.abs(a.value) > 1000) throw new Error(`rule ${r.name}: score needs a number of points, e.g. 2.5 or -1`);
        break;
      case 'header': {
        const m = typeof a.value === 'string' ? /^([^:]+):[ \t]*(.*)$/.exec(a.value) : null;
        if (!m || !HEADER_NAME_RE.test(m[1]!) || /[\r\n]/.test(a.value as string)) throw new Error(`rule ${r.name}: header needs "Name: value" on one line, e.g. "X-Hermes-Rule: invoice"`);
        break;
      }
      case 'redirect':
      case 'bcc':
        if (typeof a.value !== 'string' || !ADDRESS_RE.test(a.value)) throw new Error(`rule ${r.name}: ${a.action} needs an email address, got ${JSON.stringify(a.value ?? '')}`);
        break;
      case 'reject':
        if (a.value !== undefined && (typeof a.value !== 'string' || /[\r\n]/.test(a.value) || a.value.length > 200)) throw new Error(`rule ${r.name}: reject text must be one line of at most 200 characters`);
        break;
      default:
        if (a.value !== undefined) throw new Error(`rule ${r.name}: ${a.action} takes no value`);
    }
  }
}

function validateCondition(rule: string, n: number, c: RuleCondition): void {
  const where = `rule ${rule}, condition ${n}`;
  if (!RULE_FIELDS.includes(c.field)) throw new Error(`${where}: unknown field "${c.field}" (known: ${RULE_FIELDS.join(', ')})`);
  if (!RULE_OPS.includes(c.op)) throw new Error(`${where}: unknown comparison "${c.op}" (known: ${RULE_OPS.join(', ')})`);
  if (c.field === 'header' && (!c.header || !HEADER_NAME_RE.test(c.header))) throw new Error(`${where}: a header condition names the header, e.g. header:Subject`);
  if (c.field === 'size') {
    if (c.op !== 'gt' && c.op !== 'lt') throw new Error(`${where}: size compares with gt or lt`);
    if (typeof c.value !== 'number' || !Number.isFinite(c.value) || c.value < 0) throw new Error(`${where}: size needs a number of bytes (or 10k, 5M)`);
    return;
  }
  if (c.op === 'gt' || c.op === 'lt') throw new Error(`${where}: gt and lt compare sizes only; use contains, equals or regex for ${c.field}`);
  if (typeof c.value !== 'string' || c.value === '') throw new Error(`${where}: give the text or pattern to look for`);
  if (c.op === 'regex') {
    try {
      new RegExp(c.value, c.caseSensitive ? '' : 'i');
    } catch (err) {
      throw new Error(`${where}: bad regular expression: ${(err as Error).message}`);
    }
  }
}

/** A condition ready to test values. */
export type Matcher = (value: string) => boolean;

export function compileMatcher(c: RuleCondition): Matcher {
  const ci = !c.caseSensitive;
  const v = String(c.value);
  switch (c.op) {
    case 'regex': {
      const re = new RegExp(v, ci ? 'i' : '');
      return (s) => re.test(s);
    }
    case 'equals': {
      const want = ci ? v.toLowerCase() : v;
      return (s) => (ci ? s.toLowerCase() : s) === want;
    }
    case 'contains': {
      const want = ci ? v.toLowerCase() : v;
      return (s) => (ci ? s.toLowerCase() : s).includes(want);
    }
    default:
      return () => false;
  }
}

/** "10485760", "500k", "10M", "1.5G" → bytes. */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)b?$/i.exec(s.trim());
  if (!m) throw new Error(`"${s}" is not a size: use bytes or a number with k, M or G (e.g. 10M)`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Math.round(Number(m[1]) * mult);
}
