// `hermes rules`: the admin's message rules. Conditions and actions are written as
// short phrases, e.g.
//   hermes rules add invoices --when "header:Subject regex \binvoice\b" --when "attachment regex \.zip$" \
//     --action "score 3" --action "header X-Hermes-Rule: invoice-zip"
import { readInputFile } from './read-input.ts';
import type { Command } from 'commander';
import PostalMime from 'postal-mime';
import { getRule, listRules, removeRule, saveRule, setRuleEnabled } from '../db/repos/message-rules.ts';
import { compileRule, evaluateRules } from '../pipeline/filter/rules/evaluate.ts';
import { RuleMessage } from '../pipeline/filter/rules/message-view.ts';
import { PLACEHOLDER_TARGET } from '../pipeline/filter/rules/examples.ts';
import { RULE_ACTIONS, RULE_FIELDS, RULE_OPS, type MessageRule, type RuleAction, type RuleCondition } from '../pipeline/filter/rules/types.ts';
import { parseSize } from '../pipeline/filter/rules/validate.ts';
import { getHeader, headerBlock } from '../pipeline/headers.ts';
import { printTable, withDataDir, withDb } from './context.ts';

type D = { dataDir: string };

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

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

export function registerRules(program: Command): void {
  const rules = program
    .command('rules')
    .description('message rules: your own conditions (header, body, rawbody, uri, sender, recipient, size, attachment) and actions (score, header, redirect, bcc, quarantine, reject, bypass)');

  withDataDir(rules.command('list').description('list the rules in the order they run')).action(async (o: D) => {
    await withDb(o.dataDir, async (db) => {
      printTable(
        (await listRules(db)).map((r) => ({
          name: r.name,
          enabled: r.enabled ? 'yes' : 'no',
          priority: r.priority,
          match: r.match,
          conditions: r.conditions.length,
          actions: r.actions.map(describeAction).join('; ').slice(0, 60),
          description: (r.description ?? '').slice(0, 60),
        })),
        ['name', 'enabled', 'priority', 'match', 'conditions', 'actions', 'description'],
        'no message rules',
      );
    });
  });

  withDataDir(rules.command('show <name>').description('show a rule: its conditions and actions')).action(async (name: string, o: D) => {
    await withDb(o.dataDir, async (db) => {
      const r = await getRule(db, name);
      console.log(`Rule        ${r.name}${r.enabled ? '' : ' (disabled)'}`);
      console.log(`Description ${r.description ?? '-'}`);
      console.log(`Priority    ${r.priority}`);
      console.log(`Matches     when ${r.match === 'all' ? 'all' : 'any'} of:`);
      for (const c of r.conditions) console.log(`  ${describeCondition(c)}`);
      console.log('Actions');
      for (const a of r.actions) console.log(`  ${describeAction(a)}`);
    });
  });

  withDataDir(
    rules
      .command('add <name>')
      .description('add a rule (enabled unless --disabled)')
      .option('--when <condition>', 'a condition: "[not] FIELD[:Header] OP VALUE"; FIELD is header, body, rawbody, uri, sender, recipient, size or attachment; OP is contains, equals, regex (or gt, lt for size: 10M); repeatable', collect)
      .option('--action <action>', 'an action: "score 2.5", "header X-Name: value", "redirect addr", "bcc addr", "quarantine", "reject [text]" or "bypass"; repeatable', collect)
      .option('--any', 'match when any condition holds (default: all of them)')
      .option('--case-sensitive', 'compare text with exact case (default: case-insensitive)')
      .option('--priority <n>', 'lower runs first', '100')
      .option('--description <text>', 'what the rule is for')
      .option('--disabled', 'store it without enabling it')
      .option('--replace', 'overwrite the rule of that name'),
  ).action(
    async (
      name: string,
      o: D & { when?: string[]; action?: string[]; any?: boolean; caseSensitive?: boolean; priority: string; description?: string; disabled?: boolean; replace?: boolean },
    ) => {
      if (!o.when?.length) throw new Error('give at least one --when condition');
      if (!o.action?.length) throw new Error('give at least one --action');
      const priority = Number(o.priority);
      const rule: MessageRule = {
        name,
        description: o.description ?? null,
        enabled: !o.disabled,
        priority,
        match: o.any ? 'any' : 'all',
        conditions: o.when.map((w) => parseCondition(w, !!o.caseSensitive)),
        actions: o.action.map(parseAction),
      };
      await withDb(o.dataDir, async (db) => {
        await saveRule(db, rule, { replace: !!o.replace });
        console.log(`rule ${name} ${o.replace ? 'saved' : 'added'}${rule.enabled ? '' : ' (disabled)'}`);
      });
    },
  );

  withDataDir(
    rules
      .command('enable <name>')
      .description('enable a rule; --target sets the address of its redirect and bcc actions (the shipped examples need one)')
      .option('--target <address>', 'the address redirect/bcc actions send to'),
  ).action(async (name: string, o: D & { target?: string }) => {
    await withDb(o.dataDir, async (db) => {
      const r = await getRule(db, name);
      if (o.target) {
        const actions = r.actions.map((a) => (a.action === 'redirect' || a.action === 'bcc' ? { ...a, value: o.target! } : a));
        await saveRule(db, { ...r, actions, enabled: true }, { replace: true });
      } else {
        const placeholder = r.actions.find((a) => a.value === PLACEHOLDER_TARGET);
        if (placeholder) throw new Error(`rule ${name} still sends to the placeholder ${PLACEHOLDER_TARGET}: enable it with --target your-admin@your-domain`);
        await setRuleEnabled(db, name, true);
      }
      console.log(`rule ${name} enabled${o.target ? ` (sending to ${o.target})` : ''}`);
    });
  });

  withDataDir(rules.command('disable <name>').description('disable a rule (kept, not evaluated)')).action(async (name: string, o: D) => {
    await withDb(o.dataDir, async (db) => {
      await setRuleEnabled(db, name, false);
      console.log(`rule ${name} disabled`);
    });
  });

  withDataDir(rules.command('remove <name>').description('delete a rule')).action(async (name: string, o: D) => {
    await withDb(o.dataDir, async (db) => {
      await removeRule(db, name);
      console.log(`rule ${name} removed`);
    });
  });

  withDataDir(
    rules
      .command('test <file>')
      .description('run the rules on a message file (.eml) and show which match and what they would do')
      .option('--from <address>', 'envelope sender (default: the From header address)')
      .option('--to <address...>', 'envelope recipients (default: the To and Cc header addresses)')
      .option('--all', 'also try disabled rules'),
  ).action(async (file: string, o: D & { from?: string; to?: string[]; all?: boolean }) => {
    let raw = readInputFile(file);
    // An mbox "From " line is not part of the message.
    if (raw.subarray(0, 5).toString() === 'From ') raw = raw.subarray(raw.indexOf(10) + 1);
    const block = headerBlock(raw);
    const addrs = (h: string | null) => (h ?? '').match(/[^\s<>,;"]+@[^\s<>,;"]+/g) ?? [];
    const mailFrom = o.from ?? addrs(getHeader(block, 'From'))[0] ?? '';
    const recipients = (o.to ?? [...addrs(getHeader(block, 'To')), ...addrs(getHeader(block, 'Cc'))]).map((a) => a.toLowerCase());
    await withDb(o.dataDir, async (db) => {
      const list = (await listRules(db, { enabledOnly: !o.all })).map(compileRule);
      const matches = await evaluateRules(list, new RuleMessage(raw, () => PostalMime.parse(raw), { mailFrom, recipients }));
      console.log(`envelope: from <${mailFrom}> to ${recipients.map((r) => `<${r}>`).join(', ') || '(none)'}; ${list.length} rule(s) tried`);
      printTable(
        matches.map((m) => ({ rule: m.rule, action: m.action, value: m.value ?? '', for: m.recipients?.join(', ') ?? 'whole message' })),
        ['rule', 'action', 'value', 'for'],
        'no rule matches',
      );
    });
  });
}
