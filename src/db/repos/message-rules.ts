// Message rules in the database (table message_rules). Every change bumps the
// configuration serial, so running gateways use it from the next message on.
import type { Db } from '../database.ts';
import { inTransaction } from '../transaction.ts';
import type { MessageRuleRow } from '../schema.ts';
import { bumpConfigSerial } from '../../config/settings.ts';
import type { MessageRule } from '../../pipeline/filter/rules/types.ts';
import { validateRule } from '../../pipeline/filter/rules/validate.ts';

export function ruleFromRow(r: MessageRuleRow): MessageRule {
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    enabled: r.enabled === 1,
    priority: r.priority,
    match: r.match === 'any' ? 'any' : 'all',
    conditions: JSON.parse(r.conditions) as MessageRule['conditions'],
    actions: JSON.parse(r.actions) as MessageRule['actions'],
  };
}

/** Every rule, in evaluation order (priority, then name). */
export async function listRules(db: Db, opts: { enabledOnly?: boolean } = {}): Promise<MessageRule[]> {
  let q = db.selectFrom('message_rules').selectAll();
  if (opts.enabledOnly) q = q.where('enabled', '=', 1);
  return (await q.orderBy('priority').orderBy('name').execute()).map(ruleFromRow);
}

export async function getRule(db: Db, name: string): Promise<MessageRule> {
  const row = await db.selectFrom('message_rules').selectAll().where('name', '=', name).executeTakeFirst();
  if (!row) throw new Error(`no message rule named "${name}" (see "hermes rules list")`);
  return ruleFromRow(row);
}

/** Adds a rule, or with `replace` overwrites the rule of that name. */
export async function saveRule(db: Db, rule: MessageRule, opts: { replace?: boolean } = {}): Promise<void> {
  validateRule(rule);
  const now = Date.now();
  const values = {
    name: rule.name,
    description: rule.description,
    enabled: rule.enabled ? 1 : 0,
    priority: rule.priority,
    match: rule.match,
    conditions: JSON.stringify(rule.conditions),
    actions: JSON.stringify(rule.actions),
    updated_at: now,
  };
  await inTransaction(db, async (trx) => {
    const exists = await trx.selectFrom('message_rules').select('id').where('name', '=', rule.name).executeTakeFirst();
    if (exists && !opts.replace) throw new Error(`a rule named "${rule.name}" exists; use --replace to overwrite it`);
    if (exists) await trx.updateTable('message_rules').set(values).where('id', '=', exists.id).execute();
    else await trx.insertInto('message_rules').values({ ...values, created_at: now }).execute();
    await bumpConfigSerial(trx);
  });
}

export async function setRuleEnabled(db: Db, name: string, enabled: boolean): Promise<void> {
  await inTransaction(db, async (trx) => {
    const res = await trx.updateTable('message_rules').set({ enabled: enabled ? 1 : 0, updated_at: Date.now() }).where('name', '=', name).executeTakeFirst();
    if (!Number(res.numUpdatedRows)) throw new Error(`no message rule named "${name}" (see "hermes rules list")`);
    await bumpConfigSerial(trx);
  });
}

export async function removeRule(db: Db, name: string): Promise<void> {
  await inTransaction(db, async (trx) => {
    const res = await trx.deleteFrom('message_rules').where('name', '=', name).executeTakeFirst();
    if (!Number(res.numDeletedRows)) throw new Error(`no message rule named "${name}" (see "hermes rules list")`);
    await bumpConfigSerial(trx);
  });
}
