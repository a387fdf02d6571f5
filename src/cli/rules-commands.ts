// `hermes rules`: the admin's message rules. Conditions and actions are written as
// short phrases, e.g.
//   hermes rules add invoices --when "header:Subject regex \binvoice\b" --when "attachment regex \.zip$" \
//     --action "score 3" --action "header X-Hermes-Rule: invoice-zip"
import { readInputFile } from './read-input.ts';
import type { Command } from 'commander';
import { describeAction, describeCondition, parseAction, parseCondition } from '../pipeline/filter/rules/rule-text.ts';
import { cliActor } from '../services/actor.ts';
import {
  disableMessageRule,
  enableMessageRule,
  getMessageRule,
  listMessageRules,
  removeMessageRule,
  saveMessageRule,
  testStoredRules,
  type RuleInput,
} from '../services/rules-service.ts';
import { printTable, withDataDir, withDb } from './context.ts';

export { describeAction, describeCondition, parseAction, parseCondition };

type D = { dataDir: string };

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
        (await listMessageRules(db, cliActor())).map((r) => ({
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
      const r = await getMessageRule(db, cliActor(), name);
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
      const rule: RuleInput = {
        name,
        description: o.description ?? null,
        enabled: !o.disabled,
        priority,
        match: o.any ? 'any' : 'all',
        conditions: o.when.map((w) => parseCondition(w, !!o.caseSensitive)),
        actions: o.action.map(parseAction),
      };
      await withDb(o.dataDir, async (db) => {
        await saveMessageRule(db, cliActor(), rule, { replace: !!o.replace });
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
      await enableMessageRule(db, cliActor(), name, o.target ? { target: o.target } : {});
      console.log(`rule ${name} enabled${o.target ? ` (sending to ${o.target})` : ''}`);
    });
  });

  withDataDir(rules.command('disable <name>').description('disable a rule (kept, not evaluated)')).action(async (name: string, o: D) => {
    await withDb(o.dataDir, async (db) => {
      await disableMessageRule(db, cliActor(), name);
      console.log(`rule ${name} disabled`);
    });
  });

  withDataDir(rules.command('remove <name>').description('delete a rule')).action(async (name: string, o: D) => {
    await withDb(o.dataDir, async (db) => {
      await removeMessageRule(db, cliActor(), name);
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
    const raw = readInputFile(file);
    await withDb(o.dataDir, async (db) => {
      const { envelope, rulesTried, matches } = await testStoredRules(db, cliActor(), raw, { ...(o.from ? { from: o.from } : {}), ...(o.to ? { to: o.to } : {}), all: !!o.all });
      console.log(`envelope: from <${envelope.from}> to ${envelope.to.map((r) => `<${r}>`).join(', ') || '(none)'}; ${rulesTried} rule(s) tried`);
      printTable(
        matches.map((m) => ({ rule: m.rule, action: m.action, value: m.value ?? '', for: m.recipients?.join(', ') ?? 'whole message' })),
        ['rule', 'action', 'value', 'for'],
        'no rule matches',
      );
    });
  });
}
