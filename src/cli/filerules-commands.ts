// File rule sets (banned attachments) from the command line: named, ordered rule lists
// that policies refer to. Changes apply to running gateways from their next message.
import { readInputFile } from './read-input.ts';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { FILE_RULE_KINDS, type FileRule, type FileRuleKind, type FileRuleSet } from '../pipeline/filter/attachments/rules.ts';
import { CONTENT_FAMILIES, CONTENT_KINDS } from '../pipeline/filter/attachments/magic.ts';
import { ARCHIVE_CONDITIONS } from '../pipeline/filter/attachments/inspect.ts';
import { DEFAULT_RULE_SET_NAME } from '../pipeline/filter/attachments/default-rules.ts';
import { cliActor } from '../services/actor.ts';
import { addRule, createRuleSet, deleteRuleSet, getRuleSet, listRuleSets, removeRule, resetRuleSet, testRuleSet } from '../services/filerules-service.ts';
import { fmtTime, printTable, withDataDir, withDb } from './context.ts';

type D = { dataDir: string };

const KIND_HELP = `
Rule kinds (--kind):
${Object.entries(FILE_RULE_KINDS)
  .map(([k, d]) => `  ${k.padEnd(17)} ${d}`)
  .join('\n')}

Content kinds and families for detected-type:
  families: ${CONTENT_FAMILIES.join(', ')}
  kinds:    ${Object.keys(CONTENT_KINDS).join(', ')}
  macros:   Office documents carrying VBA macros
Archive conditions for archive: ${ARCHIVE_CONDITIONS.join(', ')}

For each file the first matching rule decides: "ban" records it (the policy's banned
attachment action applies), "allow" lets it through. Put an allow rule in front of a
ban rule (--before) to make an exception.

Examples:
  hermes filerules add default office-macros --kind detected-type --values macros
  hermes filerules add default no-encrypted-zip --kind archive --values encrypted
  hermes filerules add strict allow-reports --kind name --values "report-*.exe" --allow --before executable-extension`;

function shortList(values: string[], full: boolean): string {
  if (!values.length) return '-';
  const all = values.join(',');
  if (full || all.length <= 60) return all;
  let shown = '';
  let n = 0;
  while (n < values.length && (shown + values[n]).length <= 50) shown += (n ? ',' : '') + values[n++];
  return `${shown},... (+${values.length - n} more)`;
}

function printSet(set: FileRuleSet, full = false): void {
  console.log(`${set.name}: ${set.description || '(no description)'}`);
  printTable(
    set.rules.map((r, i) => ({
      '#': i + 1,
      rule: r.name,
      action: r.action,
      kind: r.kind,
      values: shortList(r.values, full),
      archives: r.inArchives ? 'yes' : 'no',
      description: r.description,
    })),
    ['#', 'rule', 'action', 'kind', 'values', 'archives', 'description'],
    '(no rules: nothing is banned)',
  );
}

function splitValues(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
}

export function registerFileRules(program: Command): void {
  const fr = program
    .command('filerules')
    .description('file rule sets for banned attachments (by extension, double extension, declared and real type, names in zip archives)');

  withDataDir(fr.command('list').description('list the file rule sets')).action(async (o: D) => {
    await withDb(o.dataDir, async (db) => {
      const sets = await listRuleSets(db, cliActor());
      printTable(sets.map((s) => ({ ...s, updated: fmtTime(Date.parse(s.updatedAt)) })), ['name', 'rules', 'updated', 'description']);
    });
  });

  withDataDir(
    fr.command('show <set>').description('show the rules of a set, in the order they are tried').option('--full', 'show every value of long lists'),
  ).action(async (name: string, o: D & { full?: boolean }) => {
    await withDb(o.dataDir, async (db) => {
      printSet(await getRuleSet(db, cliActor(), name), o.full === true);
    });
  });

  withDataDir(
    fr
      .command('create <set>')
      .description('create a rule set, empty or a copy of another (then assign it to a policy)')
      .option('--from <set>', 'start from a copy of this set')
      .option('--description <text>', 'a note for admins', ''),
  ).action(async (name: string, o: D & { from?: string; description: string }) => {
    await withDb(o.dataDir, async (db) => {
      const set = await createRuleSet(db, cliActor(), name, { description: o.description, ...(o.from !== undefined ? { copyFrom: o.from } : {}) });
      console.log(`created file rule set ${set.name} with ${set.rules.length} rules`);
    });
  });

  withDataDir(fr.command('delete <set>').description(`delete a rule set (policies naming it fall back to "${DEFAULT_RULE_SET_NAME}")`)).action(async (name: string, o: D) => {
    await withDb(o.dataDir, async (db) => {
      await deleteRuleSet(db, cliActor(), name);
      console.log(`deleted file rule set ${name}`);
    });
  });

  withDataDir(
    fr
      .command('add <set> <rule>')
      .description('add a rule to a set (last, or --before another rule)')
      .requiredOption('--kind <kind>', `what the rule looks at: ${Object.keys(FILE_RULE_KINDS).join(', ')}`)
      .option('--values <list>', 'comma-separated values (extensions, patterns, kinds...)')
      .option('--allow', 'allow matching files instead of banning them (an exception)')
      .option('--top-level-only', 'only judge the message\'s own attachments, not files inside archives')
      .option('--before <rule>', 'put the rule in front of this one')
      .option('--replace', 'change an existing rule of this name')
      .option('--description <text>', 'a note for admins', '')
      .addHelpText('after', KIND_HELP),
  ).action(
    async (
      setName: string,
      ruleName: string,
      o: D & { kind: string; values?: string; allow?: boolean; topLevelOnly?: boolean; before?: string; replace?: boolean; description: string },
    ) => {
      const rule: FileRule = {
        name: ruleName,
        kind: o.kind as FileRuleKind,
        values: splitValues(o.values),
        action: o.allow ? 'allow' : 'ban',
        inArchives: !o.topLevelOnly,
        description: o.description,
      };
      await withDb(o.dataDir, async (db) => {
        const set = await addRule(db, cliActor(), setName, rule, { ...(o.before !== undefined ? { before: o.before } : {}), ...(o.replace ? { replace: true } : {}) });
        printSet(set);
      });
    },
  );

  withDataDir(fr.command('remove <set> <rule>').description('remove a rule from a set')).action(async (setName: string, ruleName: string, o: D) => {
    await withDb(o.dataDir, async (db) => {
      await removeRule(db, cliActor(), setName, ruleName);
      console.log(`removed rule ${ruleName} from ${setName}`);
    });
  });

  withDataDir(fr.command('reset <set>').description(`put the shipped rules back into the "${DEFAULT_RULE_SET_NAME}" set`)).action(async (name: string, o: D) => {
    await withDb(o.dataDir, async (db) => printSet(await resetRuleSet(db, cliActor(), name)));
  });

  withDataDir(
    fr
      .command('test <set> <files...>')
      .description('show what a set bans among local files (each one an attachment, or with --message a whole message)')
      .option('--message', 'the files are messages (.eml): judge their attachments'),
  ).action(async (setName: string, paths: string[], o: D & { message?: boolean }) => {
    await withDb(o.dataDir, async (db) => {
      await getRuleSet(db, cliActor(), setName);
      let bannedAny = false;
      for (const p of paths) {
        const bytes = readInputFile(p);
        const files = await testRuleSet(db, cliActor(), setName, o.message === true ? { message: bytes } : { filename: basename(p), content: bytes });
        for (const f of files) {
          console.log(`${f.banned ? 'BANNED' : 'ok    '}  ${f.path}  (${f.detected ?? 'unknown content'})${f.banned ? `  rule ${f.rule}: ${f.reason}` : ''}`);
        }
        if (!files.length) console.log(`ok      ${p}  (no attachments)`);
        bannedAny ||= files.some((f) => f.banned);
      }
      if (bannedAny) process.exitCode = 2;
    });
  });
}
