// Filter policies (spam levels and actions) and their assignment to recipients, domains
// or everyone else. Policies themselves apply across domains, so only an administrator of
// every domain creates or edits them; a domain administrator assigns them to its own
// domains and recipients.
import type { Db } from '../db/database.ts';
import { inTransaction } from '../db/transaction.ts';
import {
  assignPolicy,
  createPolicy,
  deletePolicy,
  getAssignment,
  getPolicy,
  listAssignmentsPage,
  listPolicies,
  normalisePolicyName,
  parseAssignmentTarget,
  POLICY_ACTIONS,
  unassignPolicy,
  updatePolicy,
  type PolicyFields,
} from '../db/repos/filter-policies.ts';
import { getFileRuleSet } from '../db/repos/file-rules.ts';
import type { FilterPolicyRow, PolicyAction, PolicyScope } from '../db/schema.ts';
import { loadFilterConfig } from '../pipeline/decide/filter-config.ts';
import { assertCan, assertDomain, domainOf, type Actor } from './actor.ts';
import { recordChange } from './audit-service.ts';
import { decodeCursor, pageSize, toPage, type Page } from './page.ts';
import { assertGlobal, check, repo } from './repo-errors.ts';
import { ServiceError } from './service-error.ts';

export { POLICY_ACTIONS, type PolicyFields };

export interface FilterPolicy {
  name: string;
  description: string | null;
  /** null: the level is off (never reached). */
  tagScore: number | null;
  quarantineScore: number | null;
  rejectScore: number | null;
  spamAction: PolicyAction;
  malwareAction: PolicyAction;
  bannedAction: PolicyAction;
  badheaderAction: PolicyAction;
  subjectTag: string;
  spamChecks: boolean;
  /** File rule set for banned attachments; null: "default". */
  fileRules: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface PolicyAssignment {
  scope: PolicyScope;
  /** Address, domain, or '' for the default. */
  target: string;
  policy: string;
}

export function toFilterPolicy(p: FilterPolicyRow): FilterPolicy {
  return {
    name: p.name,
    description: p.description,
    tagScore: p.tag_score,
    quarantineScore: p.quarantine_score,
    rejectScore: p.reject_score,
    spamAction: p.spam_action,
    malwareAction: p.malware_action,
    bannedAction: p.banned_action,
    badheaderAction: p.badheader_action,
    subjectTag: p.subject_tag,
    spamChecks: !!p.spam_checks,
    fileRules: p.file_rules,
    createdAt: new Date(Number(p.created_at)).toISOString(),
    updatedAt: new Date(Number(p.updated_at)).toISOString(),
  };
}

const FIELD_NAMES: ReadonlySet<string> = new Set([
  'description', 'tagScore', 'quarantineScore', 'rejectScore', 'spamAction', 'malwareAction', 'bannedAction', 'badheaderAction', 'subjectTag', 'spamChecks', 'fileRules',
]);

function checkFields(f: PolicyFields): void {
  for (const k of Object.keys(f)) if (!FIELD_NAMES.has(k)) throw new ServiceError('invalid', `unknown policy field "${k}"`, { [k]: 'unknown field' });
  for (const k of ['spamAction', 'malwareAction', 'bannedAction', 'badheaderAction'] as const) {
    const v = f[k];
    if (v !== undefined && !POLICY_ACTIONS.includes(v)) throw new ServiceError('invalid', `${k} must be one of ${POLICY_ACTIONS.join(', ')}`, { [k]: `one of ${POLICY_ACTIONS.join(', ')}` });
  }
  for (const k of ['tagScore', 'quarantineScore', 'rejectScore'] as const) {
    const v = f[k];
    if (v !== undefined && v !== null && (typeof v !== 'number' || !Number.isFinite(v))) throw new ServiceError('invalid', `${k} must be a number, or null for off`, { [k]: 'a number or null' });
  }
}

/** A policy may only name a file rule set that exists (see hermes filerules). */
async function checkFileRules(db: Db, f: PolicyFields): Promise<void> {
  if (f.fileRules && !(await repo(() => getFileRuleSet(db, f.fileRules!), 'fileRules'))) {
    throw new ServiceError('invalid', `no file rule set ${f.fileRules} (see "hermes filerules list")`, { fileRules: 'no such file rule set' });
  }
}

async function mustGet(db: Db, name: string): Promise<FilterPolicyRow> {
  const p = await repo(() => getPolicy(db, name), 'name');
  if (!p) throw new ServiceError('not_found', `no policy ${name}`);
  return p;
}

export async function listFilterPolicies(db: Db, actor: Actor): Promise<FilterPolicy[]> {
  assertCan(actor, 'policies.read');
  return (await listPolicies(db)).map(toFilterPolicy);
}

export async function getFilterPolicy(db: Db, actor: Actor, name: string): Promise<FilterPolicy> {
  assertCan(actor, 'policies.read');
  return toFilterPolicy(await mustGet(db, name));
}

export async function createFilterPolicy(db: Db, actor: Actor, name: string, fields: PolicyFields = {}): Promise<FilterPolicy> {
  assertCan(actor, 'policies.write');
  assertGlobal(actor, 'filter policies');
  checkFields(fields);
  const n = check(() => normalisePolicyName(name), 'name');
  await checkFileRules(db, fields);
  return inTransaction(db, async (trx) => {
    const p = toFilterPolicy(await repo(() => createPolicy(trx, n, fields)));
    await recordChange(trx, actor, { action: 'filter-policy.create', targetType: 'filter-policy', targetId: n, after: p });
    return p;
  });
}

export async function updateFilterPolicy(db: Db, actor: Actor, name: string, fields: PolicyFields): Promise<FilterPolicy> {
  assertCan(actor, 'policies.write');
  assertGlobal(actor, 'filter policies');
  checkFields(fields);
  if (!Object.keys(fields).length) throw new ServiceError('invalid', 'nothing to change: give at least one field');
  await checkFileRules(db, fields);
  return inTransaction(db, async (trx) => {
    const before = toFilterPolicy(await mustGet(trx, name));
    const after = toFilterPolicy(await repo(() => updatePolicy(trx, name, fields)));
    await recordChange(trx, actor, { action: 'filter-policy.update', targetType: 'filter-policy', targetId: before.name, before, after });
    return after;
  });
}

export async function removeFilterPolicy(db: Db, actor: Actor, name: string): Promise<void> {
  assertCan(actor, 'policies.write');
  assertGlobal(actor, 'filter policies');
  await inTransaction(db, async (trx) => {
    const before = toFilterPolicy(await mustGet(trx, name));
    await repo(() => deletePolicy(trx, name));
    await recordChange(trx, actor, { action: 'filter-policy.remove', targetType: 'filter-policy', targetId: before.name, before });
  });
}

/** The target of an assignment, checked against the actor's domains. */
function scopedTarget(actor: Actor, target: string): { scope: PolicyScope; target: string } {
  const t = check(() => parseAssignmentTarget(target), 'target');
  if (t.scope === 'default') assertGlobal(actor, 'the default assignment');
  else assertDomain(actor, t.scope === 'recipient' ? domainOf(t.target) : t.target);
  return t;
}

const describeTarget = (t: { scope: PolicyScope; target: string }) => (t.scope === 'default' ? 'default' : t.target);

/** Applies a policy to a recipient (user@domain), a domain (and its subdomains), or "default". */
export async function assignFilterPolicy(db: Db, actor: Actor, target: string, policy: string): Promise<PolicyAssignment> {
  assertCan(actor, 'policies.write');
  const t = scopedTarget(actor, target);
  const p = check(() => normalisePolicyName(policy), 'policy');
  return inTransaction(db, async (trx) => {
    const before = await getAssignment(trx, t.scope, t.target);
    await repo(() => assignPolicy(trx, target, p), 'policy');
    const after = { ...t, policy: p };
    await recordChange(trx, actor, {
      action: 'filter-policy.assign',
      targetType: 'policy-assignment',
      targetId: describeTarget(t),
      domain: t.scope === 'default' ? null : t.scope === 'recipient' ? domainOf(t.target) : t.target,
      before,
      after,
    });
    return after;
  });
}

/** Removes the policy of a recipient or domain: the default applies again. */
export async function unassignFilterPolicy(db: Db, actor: Actor, target: string): Promise<void> {
  assertCan(actor, 'policies.write');
  const t = check(() => parseAssignmentTarget(target), 'target');
  if (t.scope === 'default') throw new ServiceError('invalid', 'the default assignment cannot be removed; assign another policy as default instead', { target: 'default' });
  scopedTarget(actor, target);
  await inTransaction(db, async (trx) => {
    const before = await getAssignment(trx, t.scope, t.target);
    await repo(() => unassignPolicy(trx, target));
    await recordChange(trx, actor, {
      action: 'filter-policy.unassign',
      targetType: 'policy-assignment',
      targetId: t.target,
      domain: t.scope === 'recipient' ? domainOf(t.target) : t.target,
      before,
    });
  });
}

type AssignmentCursor = [string, string];
const isAssignmentCursor = (v: unknown): v is AssignmentCursor => Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'string');

export async function listPolicyAssignments(db: Db, actor: Actor, q: { cursor?: string; limit?: number } = {}): Promise<Page<PolicyAssignment>> {
  assertCan(actor, 'policies.read');
  const limit = pageSize(q.limit);
  const after = decodeCursor(q.cursor, isAssignmentCursor);
  const rows = await listAssignmentsPage(db, { ...(after ? { after: { scope: after[0], target: after[1] } } : {}), ...(actor.domains ? { domains: actor.domains } : {}) }, limit + 1);
  return toPage(rows, limit, (r) => ({ scope: r.scope, target: r.target, policy: r.policy }), (r) => [r.scope, r.target]);
}

/** Which policy applies to an address, and through which assignment. */
export async function resolvePolicyFor(db: Db, actor: Actor, address: string): Promise<{ address: string; policy: string; via: string }> {
  assertCan(actor, 'policies.read');
  const a = address.trim().toLowerCase();
  if (!a) throw new ServiceError('invalid', 'give an address (user@domain) or a domain', { address: 'required' });
  assertDomain(actor, domainOf(a));
  const r = (await loadFilterConfig(db, 0)).policies.resolve(a);
  return { address: a, policy: r.policy.name, via: r.via };
}
