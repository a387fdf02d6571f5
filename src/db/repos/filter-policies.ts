// Filter policies (Hermes's SVF policies) and who they apply to: a recipient, a domain,
// or everyone else (the default assignment). Every change bumps the configuration
// serial, so running gateways use it from the next message on.
import type { Db } from '../database.ts';
import { inTransaction } from '../transaction.ts';
import type { FilterPolicyRow, PolicyAction, PolicyScope } from '../schema.ts';
import { bumpConfigSerial } from '../../config/settings.ts';
import { normaliseDomain, normaliseRecipientPattern } from './relay-policy.ts';

export const POLICY_ACTIONS: readonly PolicyAction[] = ['deliver', 'tag', 'quarantine', 'reject', 'discard'];

export interface PolicyFields {
  description?: string | null;
  tagScore?: number | null;
  quarantineScore?: number | null;
  rejectScore?: number | null;
  spamAction?: PolicyAction;
  malwareAction?: PolicyAction;
  bannedAction?: PolicyAction;
  badheaderAction?: PolicyAction;
  subjectTag?: string;
  spamChecks?: boolean;
  fileRules?: string | null;
}

/** Hermes's defaults: tag at 2, quarantine at 5, reject at 15; malware and banned files refused. */
export const DEFAULT_POLICY_FIELDS: Required<PolicyFields> = {
  description: null,
  tagScore: 2,
  quarantineScore: 5,
  rejectScore: 15,
  spamAction: 'quarantine',
  malwareAction: 'reject',
  bannedAction: 'reject',
  badheaderAction: 'deliver',
  subjectTag: '[SUSPECTED SPAM]',
  spamChecks: true,
  fileRules: null,
};

export function normalisePolicyName(name: string): string {
  const n = name.trim().toLowerCase();
  if (!/^[a-z0-9][a-z0-9._-]{0,62}$/.test(n)) throw new Error(`invalid policy name "${name}": use letters, digits, ".", "_" and "-" (at most 63)`);
  return n;
}

function checkAction(field: string, a: unknown): asserts a is PolicyAction {
  if (!POLICY_ACTIONS.includes(a as PolicyAction)) throw new Error(`${field} must be one of ${POLICY_ACTIONS.join(', ')} (got "${String(a)}")`);
}

function checkScore(field: string, v: unknown): void {
  if (v !== null && (typeof v !== 'number' || !Number.isFinite(v))) throw new Error(`${field} must be a number or null (off)`);
}

function toColumns(f: PolicyFields): Partial<FilterPolicyRow> {
  const c: Partial<FilterPolicyRow> = {};
  if (f.description !== undefined) c.description = f.description;
  if (f.tagScore !== undefined) (checkScore('tag score', f.tagScore), (c.tag_score = f.tagScore));
  if (f.quarantineScore !== undefined) (checkScore('quarantine score', f.quarantineScore), (c.quarantine_score = f.quarantineScore));
  if (f.rejectScore !== undefined) (checkScore('reject score', f.rejectScore), (c.reject_score = f.rejectScore));
  if (f.spamAction !== undefined) (checkAction('spam action', f.spamAction), (c.spam_action = f.spamAction));
  if (f.malwareAction !== undefined) (checkAction('malware action', f.malwareAction), (c.malware_action = f.malwareAction));
  if (f.bannedAction !== undefined) (checkAction('banned action', f.bannedAction), (c.banned_action = f.bannedAction));
  if (f.badheaderAction !== undefined) (checkAction('bad header action', f.badheaderAction), (c.badheader_action = f.badheaderAction));
  if (f.subjectTag !== undefined) {
    if (/[\r\n]/.test(f.subjectTag) || f.subjectTag.length > 100) throw new Error('subject tag must be one line of at most 100 characters');
    c.subject_tag = f.subjectTag;
  }
  if (f.spamChecks !== undefined) c.spam_checks = f.spamChecks ? 1 : 0;
  if (f.fileRules !== undefined) c.file_rules = f.fileRules;
  return c;
}

function checkOrder(row: Pick<FilterPolicyRow, 'tag_score' | 'quarantine_score' | 'reject_score'>): void {
  const levels = [row.tag_score, row.quarantine_score, row.reject_score].filter((x): x is number => x !== null);
  for (let i = 1; i < levels.length; i++) {
    if (levels[i]! < levels[i - 1]!) throw new Error(`thresholds must rise: tag ${row.tag_score} <= quarantine ${row.quarantine_score} <= reject ${row.reject_score}`);
  }
}

export async function createPolicy(db: Db, name: string, fields: PolicyFields = {}): Promise<FilterPolicyRow> {
  const n = normalisePolicyName(name);
  const now = Date.now();
  const row = { name: n, ...toColumns({ ...DEFAULT_POLICY_FIELDS, ...fields }), created_at: now, updated_at: now } as FilterPolicyRow;
  checkOrder(row);
  await inTransaction(db, async (trx) => {
    if (await trx.selectFrom('filter_policies').select('name').where('name', '=', n).executeTakeFirst()) throw new Error(`policy ${n} exists already`);
    await trx.insertInto('filter_policies').values(row).execute();
    await bumpConfigSerial(trx);
  });
  return row;
}

export async function updatePolicy(db: Db, name: string, fields: PolicyFields): Promise<FilterPolicyRow> {
  const n = normalisePolicyName(name);
  const changes = toColumns(fields);
  return inTransaction(db, async (trx) => {
    const cur = await trx.selectFrom('filter_policies').selectAll().where('name', '=', n).executeTakeFirst();
    if (!cur) throw new Error(`no policy ${n}`);
    const next = { ...cur, ...changes, updated_at: Date.now() };
    checkOrder(next);
    await trx.updateTable('filter_policies').set({ ...changes, updated_at: next.updated_at }).where('name', '=', n).execute();
    await bumpConfigSerial(trx);
    return next;
  });
}

export async function deletePolicy(db: Db, name: string): Promise<void> {
  const n = normalisePolicyName(name);
  await inTransaction(db, async (trx) => {
    const used = await trx.selectFrom('filter_policy_assignments').select(['scope', 'target']).where('policy', '=', n).execute();
    if (used.length) {
      throw new Error(`policy ${n} is assigned (${used.map((u) => (u.scope === 'default' ? 'default' : `${u.scope} ${u.target}`)).join(', ')}); unassign it first`);
    }
    const res = await trx.deleteFrom('filter_policies').where('name', '=', n).executeTakeFirst();
    if (!Number(res.numDeletedRows)) throw new Error(`no policy ${n}`);
    await bumpConfigSerial(trx);
  });
}

export function listPolicies(db: Db): Promise<FilterPolicyRow[]> {
  return db.selectFrom('filter_policies').selectAll().orderBy('name').execute();
}

export function getPolicy(db: Db, name: string): Promise<FilterPolicyRow | undefined> {
  return db.selectFrom('filter_policies').selectAll().where('name', '=', normalisePolicyName(name)).executeTakeFirst();
}

/** "user@example.com" → recipient, "example.com" → domain, "default" → the default. */
export function parseAssignmentTarget(target: string): { scope: PolicyScope; target: string } {
  const t = target.trim();
  if (t.toLowerCase() === 'default') return { scope: 'default', target: '' };
  if (t.includes('@')) {
    const p = normaliseRecipientPattern(t).pattern;
    if (p.startsWith('*@')) return { scope: 'domain', target: p.slice(2) };
    return { scope: 'recipient', target: p };
  }
  return { scope: 'domain', target: normaliseDomain(t) };
}

export async function assignPolicy(db: Db, target: string, policy: string): Promise<{ scope: PolicyScope; target: string }> {
  const t = parseAssignmentTarget(target);
  const p = normalisePolicyName(policy);
  await inTransaction(db, async (trx) => {
    if (!(await trx.selectFrom('filter_policies').select('name').where('name', '=', p).executeTakeFirst())) throw new Error(`no policy ${p}`);
    await trx
      .insertInto('filter_policy_assignments')
      .values({ ...t, policy: p, created_at: Date.now() })
      .onConflict((oc) => oc.columns(['scope', 'target']).doUpdateSet({ policy: p }))
      .execute();
    await bumpConfigSerial(trx);
  });
  return t;
}

export async function unassignPolicy(db: Db, target: string): Promise<void> {
  const t = parseAssignmentTarget(target);
  if (t.scope === 'default') throw new Error('the default assignment cannot be removed; assign another policy as default instead');
  await inTransaction(db, async (trx) => {
    const res = await trx.deleteFrom('filter_policy_assignments').where('scope', '=', t.scope).where('target', '=', t.target).executeTakeFirst();
    if (!Number(res.numDeletedRows)) throw new Error(`no policy is assigned to ${t.target}`);
    await bumpConfigSerial(trx);
  });
}

export function listAssignments(db: Db) {
  return db.selectFrom('filter_policy_assignments').selectAll().orderBy('scope').orderBy('target').execute();
}

export interface AssignmentFilter {
  /** Only assignments after this (scope, target): the cursor of the previous page. */
  after?: { scope: string; target: string };
  /** Only assignments to these domains, their subdomains and their recipients (domain administrators). */
  domains?: readonly string[];
}

/** One page of assignments by (scope, target), filtered in SQL. */
export async function listAssignmentsPage(db: Db, f: AssignmentFilter, limit: number) {
  if (f.domains && !f.domains.length) return [];
  let q = db.selectFrom('filter_policy_assignments').selectAll();
  if (f.after) {
    const { scope, target } = f.after;
    q = q.where((eb) => eb.or([eb('scope', '>', scope as PolicyScope), eb.and([eb('scope', '=', scope as PolicyScope), eb('target', '>', target)])]));
  }
  if (f.domains) {
    const ds = f.domains;
    q = q.where((eb) =>
      eb.or(ds.flatMap((d) => [eb('target', '=', d), eb('target', 'like', `%.${d}`), eb('target', 'like', `%@${d}`), eb('target', 'like', `%@%.${d}`)])),
    );
  }
  return q.orderBy('scope').orderBy('target').limit(limit).execute();
}

export function getAssignment(db: Db, scope: PolicyScope, target: string) {
  return db.selectFrom('filter_policy_assignments').select(['scope', 'target', 'policy']).where('scope', '=', scope).where('target', '=', target).executeTakeFirst();
}
