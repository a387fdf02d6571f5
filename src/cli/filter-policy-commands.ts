// `hermes filter-policy`: named filter policies (Hermes's SVF policies) and their
// assignment to recipients, domains, or everyone else (default). Changes apply to
// running gateways from their next message.
import type { Command } from 'commander';
import { cliActor } from '../services/actor.ts';
import {
  assignFilterPolicy,
  createFilterPolicy,
  getFilterPolicy,
  listFilterPolicies,
  listPolicyAssignments,
  POLICY_ACTIONS,
  removeFilterPolicy,
  resolvePolicyFor,
  unassignFilterPolicy,
  updateFilterPolicy,
  type FilterPolicy,
  type PolicyAssignment,
  type PolicyFields,
} from '../services/filter-policy-service.ts';
import type { PolicyAction } from '../db/schema.ts';
import { printTable, withDataDir, withDb } from './context.ts';

type D = { dataDir: string };

interface PolicyOpts {
  description?: string;
  tag?: string;
  quarantine?: string;
  reject?: string;
  spam?: string;
  malware?: string;
  banned?: string;
  badHeader?: string;
  subjectTag?: string;
  spamChecks?: string;
  fileRules?: string;
}

const HELP = `
How a policy acts on the spam score S (rule scores included):
  S >= reject level      reject in the SMTP session (550 5.7.1)
  S >= quarantine level  the spam action (default quarantine)
  S >= tag level         tag: subject prefix and X-Spam-Flag: YES
A level set to "off" is never reached. Each category has an action:
  ${POLICY_ACTIONS.join(' | ')}
When several categories apply, the most severe action wins
(reject > discard > quarantine > tag > deliver).

Examples:
  hermes filter-policy add strict --tag 1 --quarantine 3 --reject 10
  hermes filter-policy set default --spam discard
  hermes filter-policy assign ceo@example.com strict
  hermes filter-policy assign example.org lenient`;

function level(name: string, v: string | undefined): number | null | undefined {
  if (v === undefined) return undefined;
  if (v === 'off' || v === 'none') return null;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a score or "off"`);
  return n;
}

function action(name: string, v: string | undefined): PolicyAction | undefined {
  if (v === undefined) return undefined;
  if (!POLICY_ACTIONS.includes(v as PolicyAction)) throw new Error(`--${name} must be one of ${POLICY_ACTIONS.join(', ')}`);
  return v as PolicyAction;
}

function fields(o: PolicyOpts): PolicyFields {
  const f: PolicyFields = {};
  const set = <K extends keyof PolicyFields>(k: K, v: PolicyFields[K] | undefined) => {
    if (v !== undefined) f[k] = v;
  };
  set('description', o.description);
  set('tagScore', level('tag', o.tag));
  set('quarantineScore', level('quarantine', o.quarantine));
  set('rejectScore', level('reject', o.reject));
  set('spamAction', action('spam', o.spam));
  set('malwareAction', action('malware', o.malware));
  set('bannedAction', action('banned', o.banned));
  set('badheaderAction', action('bad-header', o.badHeader));
  set('subjectTag', o.subjectTag);
  if (o.spamChecks !== undefined) {
    if (o.spamChecks !== 'on' && o.spamChecks !== 'off') throw new Error('--spam-checks must be "on" or "off"');
    f.spamChecks = o.spamChecks === 'on';
  }
  if (o.fileRules !== undefined) f.fileRules = o.fileRules === 'default' ? null : o.fileRules;
  return f;
}

function withPolicyOptions(cmd: Command): Command {
  return cmd
    .option('--description <text>', 'a note for admins')
    .option('--tag <score|off>', 'tag level (default 2)')
    .option('--quarantine <score|off>', 'quarantine level: the spam action applies from here (default 5)')
    .option('--reject <score|off>', 'reject level (default 15)')
    .option('--spam <action>', 'action at the quarantine level (default quarantine)')
    .option('--malware <action>', 'action for malware (default reject)')
    .option('--banned <action>', 'action for banned attachments (default reject)')
    .option('--bad-header <action>', 'action for malformed headers (default deliver)')
    .option('--subject-tag <text>', 'subject prefix of tagged mail (default "[SUSPECTED SPAM]")')
    .option('--spam-checks <on|off>', 'off: the spam score is not acted on for this policy')
    .option('--file-rules <set>', 'file rule set for banned attachments (see hermes filerules; default "default")');
}

const fmtLevel = (n: number | null) => (n === null ? 'off' : String(n));

function show(p: FilterPolicy): void {
  const line = (k: string, v: unknown) => console.log(`${k.padEnd(18)}${String(v)}`);
  line('Policy', p.name);
  line('Description', p.description ?? '-');
  line('Tag level', fmtLevel(p.tagScore));
  line('Quarantine level', fmtLevel(p.quarantineScore));
  line('Reject level', fmtLevel(p.rejectScore));
  line('Spam action', p.spamAction);
  line('Malware action', p.malwareAction);
  line('Banned action', p.bannedAction);
  line('Bad header action', p.badheaderAction);
  line('Subject tag', p.subjectTag);
  line('Spam checks', p.spamChecks ? 'on' : 'off');
  line('File rules', p.fileRules ?? 'default');
}

export function registerFilterPolicy(program: Command): void {
  const cmd = program.command('filter-policy').description('content filter policies: spam levels and actions, per recipient, domain or default').addHelpText('after', HELP);
  withDataDir(cmd.command('list').description('list policies')).action(async (o: D) => {
    await withDb(o.dataDir, async (db) => {
      printTable(
        (await listFilterPolicies(db, cliActor())).map((p) => ({
          name: p.name,
          tag: fmtLevel(p.tagScore),
          quarantine: fmtLevel(p.quarantineScore),
          reject: fmtLevel(p.rejectScore),
          spam: p.spamAction,
          malware: p.malwareAction,
          banned: p.bannedAction,
          bad_header: p.badheaderAction,
          subject_tag: p.subjectTag,
        })),
        ['name', 'tag', 'quarantine', 'reject', 'spam', 'malware', 'banned', 'bad_header', 'subject_tag'],
      );
    });
  });
  withDataDir(cmd.command('show <name>').description('show one policy')).action(async (name: string, o: D) => {
    await withDb(o.dataDir, async (db) => {
      show(await getFilterPolicy(db, cliActor(), name));
    });
  });
  withDataDir(withPolicyOptions(cmd.command('add <name>').description('create a policy (unset options take the defaults)'))).action(async (name: string, o: D & PolicyOpts) => {
    const f = fields(o);
    await withDb(o.dataDir, async (db) => {
      show(await createFilterPolicy(db, cliActor(), name, f));
    });
  });
  withDataDir(withPolicyOptions(cmd.command('set <name>').description('change a policy'))).action(async (name: string, o: D & PolicyOpts) => {
    const f = fields(o);
    if (!Object.keys(f).length) throw new Error('nothing to change: give at least one option (see --help)');
    await withDb(o.dataDir, async (db) => {
      show(await updateFilterPolicy(db, cliActor(), name, f));
    });
  });
  withDataDir(cmd.command('remove <name>').description('delete a policy that is not assigned')).action(async (name: string, o: D) => {
    await withDb(o.dataDir, async (db) => {
      await removeFilterPolicy(db, cliActor(), name);
      console.log(`removed policy ${name}`);
    });
  });
  withDataDir(cmd.command('assign <target> <policy>').description('apply a policy to a recipient (user@domain), a domain (and its subdomains), or "default"')).action(
    async (target: string, policy: string, o: D) => {
      await withDb(o.dataDir, async (db) => {
        const t = await assignFilterPolicy(db, cliActor(), target, policy);
        console.log(`${t.scope === 'default' ? 'default' : `${t.scope} ${t.target}`}: policy ${policy.toLowerCase()}`);
      });
    },
  );
  withDataDir(cmd.command('unassign <target>').description('remove the policy of a recipient or domain (the default applies again)')).action(async (target: string, o: D) => {
    await withDb(o.dataDir, async (db) => {
      await unassignFilterPolicy(db, cliActor(), target);
      console.log(`${target}: default policy`);
    });
  });
  withDataDir(cmd.command('which <address>').description('which policy applies to an address, and why')).action(async (address: string, o: D) => {
    await withDb(o.dataDir, async (db) => {
      const r = await resolvePolicyFor(db, cliActor(), address);
      console.log(`${r.address}: policy ${r.policy} (${r.via === 'default' ? 'the default assignment' : `assigned to ${r.via}`})`);
    });
  });
  withDataDir(cmd.command('assignments').description('who has which policy')).action(async (o: D) => {
    await withDb(o.dataDir, async (db) => {
      const all: PolicyAssignment[] = [];
      let cursor: string | undefined;
      do {
        const page = await listPolicyAssignments(db, cliActor(), { cursor, limit: 500 });
        all.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      printTable(all.map((a) => ({ ...a, target: a.target || '(everyone else)' })), ['scope', 'target', 'policy']);
    });
  });
}
