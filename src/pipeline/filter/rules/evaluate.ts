// Evaluating message rules. A rule matches when all (or, with match "any", one) of its
// conditions hold; a condition on a list of values (recipients, URLs, attachments, a
// repeated header) holds when one of them matches, and a negated one when none does.
// Rules that speak of recipients are judged per recipient: a match then names the
// recipients it holds for (RuleMatch.recipients), so that "redirect mail to
// junk@office365.microsoft.com" takes only that recipient away from the message.
import type { RuleMatch } from '../findings.ts';
import type { MessageRule, RuleCondition } from './types.ts';
import { compileMatcher, type Matcher } from './validate.ts';
import type { RuleMessage } from './message-view.ts';

interface CompiledCondition {
  c: RuleCondition;
  test: Matcher;
}

export interface CompiledRule {
  rule: MessageRule;
  conditions: CompiledCondition[];
  /** Needs the parsed message (any condition beyond sender, recipient, size). */
  needsContent: boolean;
  perRecipient: boolean;
}

const ENVELOPE_FIELDS = new Set(['sender', 'recipient', 'size']);

export function compileRule(rule: MessageRule): CompiledRule {
  return {
    rule,
    conditions: rule.conditions.map((c) => ({ c, test: compileMatcher(c) })),
    needsContent: rule.conditions.some((c) => !ENVELOPE_FIELDS.has(c.field)),
    perRecipient: rule.conditions.some((c) => c.field === 'recipient'),
  };
}

function values(m: RuleMessage, c: RuleCondition, recipients: string[]): string[] {
  switch (c.field) {
    case 'header':
      return m.header(c.header ?? '');
    case 'body':
      return [m.bodyText];
    case 'rawbody':
      return [m.rawBody];
    case 'uri':
      return m.uris;
    case 'sender':
      return [m.envelope.mailFrom];
    case 'recipient':
      return recipients;
    case 'attachment':
      return m.attachmentNames;
    default:
      return [];
  }
}

function holds(m: RuleMessage, cc: CompiledCondition, recipients: string[]): boolean {
  const { c } = cc;
  let hit: boolean;
  if (c.field === 'size') hit = c.op === 'gt' ? m.size > Number(c.value) : m.size < Number(c.value);
  else hit = values(m, c, recipients).some(cc.test);
  return c.negate ? !hit : hit;
}

function ruleHolds(m: RuleMessage, r: CompiledRule, recipients: string[]): boolean {
  return r.rule.match === 'any' ? r.conditions.some((c) => holds(m, c, recipients)) : r.conditions.every((c) => holds(m, c, recipients));
}

/** The matches of the given (enabled, priority-ordered) rules, in rule order, one per action. */
export async function evaluateRules(rules: readonly CompiledRule[], m: RuleMessage): Promise<RuleMatch[]> {
  if (rules.some((r) => r.needsContent)) await m.load();
  const out: RuleMatch[] = [];
  for (const r of rules) {
    let recipients: string[] | undefined;
    if (r.perRecipient) {
      const all = m.envelope.recipients;
      const hit = all.filter((rcpt) => ruleHolds(m, r, [rcpt]));
      if (!hit.length) continue;
      if (hit.length < all.length) recipients = hit;
    } else if (!ruleHolds(m, r, m.envelope.recipients)) continue;
    for (const a of r.rule.actions) {
      out.push({ rule: r.rule.name, action: a.action, ...(a.value !== undefined ? { value: a.value } : {}), ...(recipients ? { recipients } : {}) });
    }
  }
  return out;
}

export interface RuleExplanation {
  matched: boolean;
  /** Each condition and whether it held (for a recipient condition: for at least one recipient). */
  conditions: Array<{ condition: RuleCondition; held: boolean }>;
  /** For a rule about recipients: those it matched for. */
  recipients?: string[];
}

/** Why one rule does or does not match a message: what "test this rule" shows. */
export async function explainRule(r: CompiledRule, m: RuleMessage): Promise<RuleExplanation> {
  if (r.needsContent) await m.load();
  const all = m.envelope.recipients;
  const sets = r.perRecipient ? all.map((rcpt) => [rcpt]) : [all];
  const conditions = r.conditions.map((cc) => ({ condition: cc.c, held: sets.some((rs) => holds(m, cc, rs)) }));
  if (r.perRecipient) {
    const hit = all.filter((rcpt) => ruleHolds(m, r, [rcpt]));
    return { matched: hit.length > 0, conditions, recipients: hit };
  }
  return { matched: ruleHolds(m, r, all), conditions };
}
