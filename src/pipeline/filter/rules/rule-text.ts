// Message rules written as short phrases, the way the CLI (and a console's text box)
// takes them: conditions "[not] FIELD[:Header] OP VALUE", actions "ACTION [VALUE]";
// and the same phrases back for display.
import { RULE_ACTIONS, RULE_FIELDS, RULE_OPS, type RuleAction, type RuleCondition } from './types.ts';
import { parseSize } from './validate.ts';

/** "[not] FIELD[:Header] OP VALUE" → a condition. */
export function parseCondition(text: string, caseSensitive = false): RuleCondition {
  const m = /^\s*(not\s+)?([a-z]+)(?::([^\s]+))?\s+([a-z]+)\s+(.+?)\s*$/i.exec(text);
  if (!m) throw new Error(`--when "${text}": write "[not] FIELD OP VALUE", e.g. "header:Subject contains invoice" or "size gt 10M"`);
  const [, not, fieldRaw, header, opRaw, value] = m;
  const field = fieldRaw!.toLowerCase() as RuleCondition['field'];
  const op = opRaw!.toLowerCase() as RuleCondition['op'];
  if (!RULE_FIELDS.includes(field)) throw new Error(`--when "${text}": unknown field "${fieldRaw}" (known: ${RULE_FIELDS.join(', ')})`);
  if (!RULE_OPS.includes(op)) throw new Error(`--when "${text}": unknown comparison "${opRaw}" (known: ${RULE_OPS.join(', ')})`);
  return {
    field,
    ...(header ? { header } : {}),
    op,
    value: field === 'size' ? parseSize(value!) : value!,
    ...(caseSensitive ? { caseSensitive: true } : {}),
    ...(not ? { negate: true } : {}),
  };
}

/** "ACTION [VALUE]" → an action. */
export function parseAction(text: string): RuleAction {
  const m = /^\s*([a-z]+)(?:\s+(.+?))?\s*$/i.exec(text);
  const action = m?.[1]?.toLowerCase() as RuleAction['action'] | undefined;
  if (!action || !RULE_ACTIONS.includes(action)) throw new Error(`--action "${text}": start with one of ${RULE_ACTIONS.join(', ')}`);
  const value = m![2];
  if (action === 'score') {
    const n = Number(value);
    if (value === undefined || !Number.isFinite(n)) throw new Error(`--action "${text}": score needs a number, e.g. "score 2.5"`);
    return { action, value: n };
  }
  return value === undefined ? { action } : { action, value };
}

export function describeCondition(c: RuleCondition): string {
  const field = c.field === 'header' ? `header:${c.header}` : c.field;
  return `${c.negate ? 'not ' : ''}${field} ${c.op} ${c.field === 'size' ? `${c.value} bytes` : JSON.stringify(c.value)}${c.caseSensitive ? ' (case-sensitive)' : ''}`;
}

export function describeAction(a: RuleAction): string {
  return a.value === undefined ? a.action : `${a.action} ${a.value}`;
}
