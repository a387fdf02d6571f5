// `hermes filter-policy`: named filter policies (Hermes's SVF policies) and their
// assignment to recipients, domains, or everyone else (default). Changes apply to
// running gateways from their next message.
import type { Command } from 'commander';
import {
  assignPolicy,
  createPolicy,
  deletePolicy,
  getPolicy,
  listAssignments,
  listPolicies,
  POLICY_ACTIONS,
  unassignPolicy,
  updatePolicy,
  type PolicyFields,
} from '../db/repos/filter-policies.ts';
import type { FilterPolicyRow, PolicyAction } from '../db/schema.ts';
import { getFileRuleSet } from '../db/repos/file-rules.ts';
import type { Db } from '../db/database.ts';
import { loadFilterConfig } from '../pipeline/decide/filter-config.ts';
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

/** A policy may only name a file rule set that exists (see hermes filerules). */
async function checkFileRules(db: Db, f: PolicyFields): Promise<void> {
  if (f.fileRules && !(await getFileRuleSet(db, f.fileRules))) throw new Error(`no file rule set ${f.fileRules} (see "hermes filerules list")`);
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

function show(p: FilterPolicyRow): void {
  const line = (k: string, v: unknown) => console.log(`${k.padEnd(18)}${String(v)}`);
  line('Policy', p.name);
  line('Description', p.description ?? '-');
  line('Tag level', fmtLevel(p.tag_score));
  line('Quarantine level', fmtLevel(p.quarantine_score));
  line('Reject level', fmtLevel(p.reject_score));
  line('Spam action', p.spam_action);
  line('Malware action', p.malware_action);
  line('Banned action', p.banned_action);
  line('Bad header action', p.badheader_action);
  line('Subject tag', p.subject_tag);
  line('Spam checks', p.spam_checks ? 'on' : 'off');
  line('File rules', p.file_rules ?? 'default');
}

export function registerFilterPolicy(program: Command): void {
  const cmd = program.command('filter-policy').description('content filter policies: spam levels and actions, per recipient, domain or default').addHelpText('after', HELP);
  withDataDir(cmd.command('list').description('list policies')).action(async (o: D) => {
    await withDb(o.dataDir, async (db) => {
      printTable(
        (await listPolicies(db)).map((p) => ({
          name: p.name,
          tag: fmtLevel(p.tag_score),
          quarantine: fmtLevel(p.quarantine_score),
          reject: fmtLevel(p.reject_score),
          spam: p.spam_action,
          malware: p.malware_action,
          banned: p.banned_action,
          bad_header: p.badheader_action,
          subject_tag: p.subject_tag,
        })),
        ['name', 'tag', 'quarantine', 'reject', 'spam', 'malware', 'banned', 'bad_header', 'subject_tag'],
      );
    });
  });
  withDataDir(cmd.command('show <name>').description('show one policy')).action(async (name: string, o: D) => {
    await withDb(o.dataDir, async (db) => {
      const p = await getPolicy(db, name);
      if (!p) throw new Error(`no policy ${name}`);
      show(p);
    });
  });
  withDataDir(withPolicyOptions(cmd.command('add <name>').description('create a policy (unset options take the defaults)'))).action(async (name: string, o: D & PolicyOpts) => {
    const f = fields(o);
    await withDb(o.dataDir, async (db) => {
      await checkFileRules(db, f);
      show(await createPolicy(db, name, f));
    });
  });
  withDataDir(withPolicyOptions(cmd.command('set <name>').description('change a policy'))).action(async (name: string, o: D & PolicyOpts) => {
    const f = fields(o);
    if (!Object.keys(f).length) throw new Error('nothing to change: give at least one option (see --help)');
    await withDb(o.dataDir, async (db) => {
      await checkFileRules(db, f);
      show(await updatePolicy(db, name, f));
    });
  });
  withDataDir(cmd.command('remove <name>').description('delete a policy that is not assigned')).action(async (name: string, o: D) => {
    await withDb(o.dataDir, async (db) => {
      await deletePolicy(db, name);
      console.log(`removed policy ${name}`);
    });
  });
  withDataDir(cmd.command('assign <target> <policy>').description('apply a policy to a recipient (user@domain), a domain (and its subdomains), or "default"')).action(
    async (target: string, policy: string, o: D) => {
      await withDb(o.dataDir, async (db) => {
        const t = await assignPolicy(db, target, policy);
        console.log(`${t.scope === 'default' ? 'default' : `${t.scope} ${t.target}`}: policy ${policy.toLowerCase()}`);
      });
    },
  );
  withDataDir(cmd.command('unassign <target>').description('remove the policy of a recipient or domain (the default applies again)')).action(async (target: string, o: D) => {
    await withDb(o.dataDir, async (db) => {
      await unassignPolicy(db, target);
      console.log(`${target}: default policy`);
    });
  });
  withDataDir(cmd.command('which <address>').description('which policy applies to an address, and why')).action(async (address: string, o: D) => {
    await withDb(o.dataDir, async (db) => {
      const r = (await loadFilterConfig(db, 0)).policies.resolve(address.trim());
      console.log(`${address.trim().toLowerCase()}: policy ${r.policy.name} (${r.via === 'default' ? 'the default assignment' : `assigned to ${r.via}`})`);
    });
  });
  withDataDir(cmd.command('assignments').description('who has which policy')).action(async (o: D) => {
    await withDb(o.dataDir, async (db) => printTable((await listAssignments(db)).map((a) => ({ ...a, target: a.target || '(everyone else)' })), ['scope', 'target', 'policy']));
  });
}
