// Message rules: the admin's own conditions and actions, and "test this rule on a
// message". Rules act on all mail, so they are an administrator's (resource "rules").
import PostalMime from '../pipeline/mime/postal-mime.ts';
import type { Db } from '../db/database.ts';
import { inTransaction } from '../db/transaction.ts';
import { getRule, listRules, removeRule, saveRule, setRuleEnabled } from '../db/repos/message-rules.ts';
import { compileRule, evaluateRules, explainRule } from '../pipeline/filter/rules/evaluate.ts';
import { PLACEHOLDER_TARGET } from '../pipeline/filter/rules/examples.ts';
import { RuleMessage } from '../pipeline/filter/rules/message-view.ts';
import type { MessageRule, RuleAction, RuleCondition } from '../pipeline/filter/rules/types.ts';
import { validateRule } from '../pipeline/filter/rules/validate.ts';
import { getHeader, headerBlock } from '../pipeline/headers.ts';
import { assertCan, type Actor } from './actor.ts';
import { recordChange } from './audit-service.ts';
import { check, repo } from './repo-errors.ts';
import { ServiceError } from './service-error.ts';

export type { MessageRule, RuleAction, RuleCondition };

export interface RuleInput {
  name: string;
  description?: string | null;
  enabled?: boolean;
  priority?: number;
  match?: 'all' | 'any';
  conditions: RuleCondition[];
  actions: RuleAction[];
}

function toRule(input: RuleInput): MessageRule {
  const rule: MessageRule = {
    name: input.name,
    description: input.description ?? null,
    enabled: input.enabled ?? true,
    priority: input.priority ?? 100,
    match: input.match ?? 'all',
    conditions: input.conditions ?? [],
    actions: input.actions ?? [],
  };
  check(() => validateRule(rule), 'rule');
  return rule;
}

const view = ({ id, ...r }: MessageRule): MessageRule => ({ ...(id !== undefined ? { id } : {}), ...r });

export async function listMessageRules(db: Db, actor: Actor, o: { enabledOnly?: boolean } = {}): Promise<MessageRule[]> {
  assertCan(actor, 'rules.read');
  return (await listRules(db, o)).map(view);
}

export async function getMessageRule(db: Db, actor: Actor, name: string): Promise<MessageRule> {
  assertCan(actor, 'rules.read');
  return view(await repo(() => getRule(db, name)));
}

async function findRule(db: Db, name: string): Promise<MessageRule | undefined> {
  try {
    return await getRule(db, name);
  } catch {
    return undefined;
  }
}

/** Adds a rule, or with `replace` overwrites the rule of that name. */
export async function saveMessageRule(db: Db, actor: Actor, input: RuleInput, o: { replace?: boolean } = {}): Promise<MessageRule> {
  assertCan(actor, 'rules.write');
  const rule = toRule(input);
  return inTransaction(db, async (trx) => {
    const before = await findRule(trx, rule.name);
    if (before && !o.replace) throw new ServiceError('conflict', `a rule named "${rule.name}" exists; use --replace to overwrite it`, { name: 'exists' });
    await repo(() => saveRule(trx, rule, o));
    const after = await getRule(trx, rule.name);
    await recordChange(trx, actor, { action: before ? 'rule.update' : 'rule.create', targetType: 'rule', targetId: rule.name, before: before && view(before), after: view(after) });
    return view(after);
  });
}

/** Enables a rule; `target` sets the address of its redirect and bcc actions (the shipped examples need one). */
export async function enableMessageRule(db: Db, actor: Actor, name: string, o: { target?: string } = {}): Promise<MessageRule> {
  assertCan(actor, 'rules.write');
  return inTransaction(db, async (trx) => {
    const before = await repo(() => getRule(trx, name));
    if (o.target) {
      const actions = before.actions.map((a) => (a.action === 'redirect' || a.action === 'bcc' ? { ...a, value: o.target! } : a));
      await repo(() => saveRule(trx, { ...before, actions, enabled: true }, { replace: true }), 'target');
    } else {
      if (before.actions.some((a) => a.value === PLACEHOLDER_TARGET)) {
        throw new ServiceError('invalid', `rule ${name} still sends to the placeholder ${PLACEHOLDER_TARGET}: enable it with --target your-admin@your-domain`, { target: 'required' });
      }
      await repo(() => setRuleEnabled(trx, name, true));
    }
    const after = view(await getRule(trx, name));
    await recordChange(trx, actor, { action: 'rule.enable', targetType: 'rule', targetId: name, before: view(before), after });
    return after;
  });
}

export async function disableMessageRule(db: Db, actor: Actor, name: string): Promise<MessageRule> {
  assertCan(actor, 'rules.write');
  return inTransaction(db, async (trx) => {
    const before = await repo(() => getRule(trx, name));
    await repo(() => setRuleEnabled(trx, name, false));
    const after = view(await getRule(trx, name));
    await recordChange(trx, actor, { action: 'rule.disable', targetType: 'rule', targetId: name, before: view(before), after });
    return after;
  });
}

export async function removeMessageRule(db: Db, actor: Actor, name: string): Promise<void> {
  assertCan(actor, 'rules.write');
  await inTransaction(db, async (trx) => {
    const before = await repo(() => getRule(trx, name));
    await repo(() => removeRule(trx, name));
    await recordChange(trx, actor, { action: 'rule.remove', targetType: 'rule', targetId: name, before: view(before) });
  });
}

export interface TestEnvelope {
  /** Envelope sender; default: the From header address. */
  from?: string;
  /** Envelope recipients; default: the To and Cc header addresses. */
  to?: string[];
}

function envelopeOf(raw: Buffer, e: TestEnvelope): { mailFrom: string; recipients: string[] } {
  const block = headerBlock(raw);
  const addrs = (h: string | null) => (h ?? '').match(/[^\s<>,;"]+@[^\s<>,;"]+/g) ?? [];
  const mailFrom = e.from ?? addrs(getHeader(block, 'From'))[0] ?? '';
  const recipients = (e.to ?? [...addrs(getHeader(block, 'To')), ...addrs(getHeader(block, 'Cc'))]).map((a) => a.toLowerCase());
  return { mailFrom, recipients };
}

/**
 * A message as given: a file's bytes, or text from a form (whose bare LF lines become the
 * CRLF lines SMTP carries). An mbox "From " line is not part of the message.
 */
export function messageBytes(message: Buffer | string): Buffer {
  let raw = typeof message === 'string' ? Buffer.from(message.includes('\r\n') ? message : message.replace(/\n/g, '\r\n'), 'utf8') : message;
  if (!raw.length) throw new ServiceError('invalid', 'the message is empty: give a whole message, headers and body', { message: 'empty' });
  if (raw.subarray(0, 5).toString() === 'From ') raw = raw.subarray(raw.indexOf(10) + 1);
  return raw;
}

export interface RulesTestResult {
  envelope: { from: string; to: string[] };
  rulesTried: number;
  matches: Array<{ rule: string; action: string; value?: string | number; recipients?: string[] }>;
}

/** Runs the stored rules (enabled ones, or all) on a message: which match and what they would do. */
export async function testStoredRules(db: Db, actor: Actor, message: Buffer | string, o: TestEnvelope & { all?: boolean } = {}): Promise<RulesTestResult> {
  assertCan(actor, 'rules.read');
  const raw = messageBytes(message);
  const envelope = envelopeOf(raw, o);
  const list = (await listRules(db, { enabledOnly: !o.all })).map(compileRule);
  const matches = await evaluateRules(list, new RuleMessage(raw, () => PostalMime.parse(raw), envelope));
  return { envelope: { from: envelope.mailFrom, to: envelope.recipients }, rulesTried: list.length, matches };
}

export interface RuleTestResult {
  rule: string;
  matched: boolean;
  envelope: { from: string; to: string[] };
  /** Each condition and whether it held. */
  conditions: Array<{ condition: RuleCondition; held: boolean }>;
  /** What the rule would do (empty when it does not match). */
  actions: RuleAction[];
  recipients?: string[];
}

/** "Test this rule on a message": one rule, stored (by name) or not yet saved, and why it matches or not. */
export async function testOneRule(db: Db, actor: Actor, rule: { name: string } | RuleInput, message: Buffer | string, o: TestEnvelope = {}): Promise<RuleTestResult> {
  assertCan(actor, 'rules.read');
  const r = 'conditions' in rule ? toRule(rule) : await repo(() => getRule(db, rule.name));
  const raw = messageBytes(message);
  const envelope = envelopeOf(raw, o);
  const x = await explainRule(compileRule(r), new RuleMessage(raw, () => PostalMime.parse(raw), envelope));
  return {
    rule: r.name,
    matched: x.matched,
    envelope: { from: envelope.mailFrom, to: envelope.recipients },
    conditions: x.conditions,
    actions: x.matched ? r.actions : [],
    ...(x.recipients ? { recipients: x.recipients } : {}),
  };
}
