// File rule sets in the database: named, ordered lists of rules (see
// pipeline/filter/attachments/rules.ts). Policies name the set they use; "default"
// ships with every install and cannot be deleted, only edited or reset. Every change
// bumps config_serial, so running gateways use it from their next message.
import type { Kysely } from 'kysely';
import type { Db } from '../database.ts';
import { inTransaction } from '../transaction.ts';
import { bumpConfigSerial } from '../../config/settings.ts';
import { normaliseFileRule, RULE_SET_NAME, type FileRule, type FileRuleAction, type FileRuleKind, type FileRuleSet } from '../../pipeline/filter/attachments/rules.ts';
import { DEFAULT_FILE_RULE_SET, DEFAULT_RULE_SET_NAME } from '../../pipeline/filter/attachments/default-rules.ts';

// Tables of migration 0004, declared here rather than in schema.ts: only this file
// touches them.
interface FileRuleSetsTable {
  name: string;
  description: string;
  created_at: number;
  updated_at: number;
}
interface FileRulesTable {
  rule_set: string;
  name: string;
  /** Order within the set, from 1: the first matching rule decides. */
  position: number;
  kind: string;
  /** JSON array of strings. */
  vals: string;
  action: string;
  in_archives: number;
  description: string;
}
type FileRuleDb = Kysely<{ file_rule_sets: FileRuleSetsTable; file_rules: FileRulesTable }>;

const tables = (db: Db | Kysely<any>) => (db as Db).withTables<{ file_rule_sets: FileRuleSetsTable; file_rules: FileRulesTable }>() as unknown as FileRuleDb;

// WRITE_FIRST: every transaction that reads before it writes starts with its write
// (the config_serial bump): see db/repos/dkim-keys.ts for why.

export function normaliseRuleSetName(name: string): string {
  const n = name.trim().toLowerCase();
  if (!RULE_SET_NAME.test(n)) throw new Error(`rule set name "${name}" must be 1-64 letters, digits, ".", "_" or "-"`);
  return n;
}

function toRule(r: FileRulesTable): FileRule {
  return {
    name: r.name,
    kind: r.kind as FileRuleKind,
    values: JSON.parse(r.vals) as string[],
    action: r.action as FileRuleAction,
    inArchives: r.in_archives === 1,
    description: r.description,
  };
}

function toRow(set: string, rule: FileRule, position: number): FileRulesTable {
  return {
    rule_set: set,
    name: rule.name,
    position,
    kind: rule.kind,
    vals: JSON.stringify(rule.values),
    action: rule.action,
    in_archives: rule.inArchives ? 1 : 0,
    description: rule.description,
  };
}

export interface FileRuleSetSummary {
  name: string;
  description: string;
  rules: number;
  updated_at: number;
}

export async function listFileRuleSets(db: Db): Promise<FileRuleSetSummary[]> {
  const t = tables(db);
  const sets = await t.selectFrom('file_rule_sets').selectAll().orderBy('name').execute();
  const counts = await t.selectFrom('file_rules').select(['rule_set', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('rule_set').execute();
  const n = new Map(counts.map((c) => [c.rule_set, Number(c.n)]));
  return sets.map((s) => ({ name: s.name, description: s.description, rules: n.get(s.name) ?? 0, updated_at: Number(s.updated_at) }));
}

/** Every set with its rules in order, by name (what a running gateway caches). */
export async function loadFileRuleSets(db: Db): Promise<Map<string, FileRuleSet>> {
  const t = tables(db);
  const sets = await t.selectFrom('file_rule_sets').selectAll().execute();
  const rules = await t.selectFrom('file_rules').selectAll().orderBy('rule_set').orderBy('position').execute();
  const out = new Map<string, FileRuleSet>(sets.map((s) => [s.name, { name: s.name, description: s.description, rules: [] }]));
  for (const r of rules) out.get(r.rule_set)?.rules.push(toRule(r));
  return out;
}

export async function getFileRuleSet(db: Db | Kysely<any>, name: string): Promise<FileRuleSet | undefined> {
  const t = tables(db);
  const n = normaliseRuleSetName(name);
  const set = await t.selectFrom('file_rule_sets').selectAll().where('name', '=', n).executeTakeFirst();
  if (!set) return undefined;
  const rules = await t.selectFrom('file_rules').selectAll().where('rule_set', '=', n).orderBy('position').execute();
  return { name: set.name, description: set.description, rules: rules.map(toRule) };
}

async function writeSet(trx: Kysely<any>, set: FileRuleSet, createdAt: number): Promise<void> {
  const t = tables(trx);
  const now = Date.now();
  await t
    .insertInto('file_rule_sets')
    .values({ name: set.name, description: set.description, created_at: createdAt, updated_at: now })
    .onConflict((oc) => oc.column('name').doUpdateSet({ description: set.description, updated_at: now }))
    .execute();
  await t.deleteFrom('file_rules').where('rule_set', '=', set.name).execute();
  if (set.rules.length) await t.insertInto('file_rules').values(set.rules.map((r, i) => toRow(set.name, r, i + 1))).execute();
}

function missing(name: string): Error {
  return new Error(`no file rule set "${name}" (see "hermes filerules list")`);
}

/** A new set, empty or a copy of `copyFrom`. */
export async function createFileRuleSet(db: Db, name: string, description: string, copyFrom?: string): Promise<FileRuleSet> {
  const n = normaliseRuleSetName(name);
  return inTransaction(db, async (trx) => {
    await bumpConfigSerial(trx);
    if (await getFileRuleSet(trx, n)) throw new Error(`file rule set "${n}" already exists`);
    let rules: FileRule[] = [];
    if (copyFrom !== undefined) {
      const src = await getFileRuleSet(trx, copyFrom);
      if (!src) throw missing(copyFrom);
      rules = src.rules;
      description ||= `copy of ${src.name}: ${src.description}`;
    }
    const set = { name: n, description: description.trim(), rules };
    await writeSet(trx, set, Date.now());
    return set;
  });
}

export async function deleteFileRuleSet(db: Db, name: string): Promise<void> {
  const n = normaliseRuleSetName(name);
  if (n === DEFAULT_RULE_SET_NAME) throw new Error(`the "${DEFAULT_RULE_SET_NAME}" rule set cannot be deleted (edit it, or "hermes filerules reset ${DEFAULT_RULE_SET_NAME}")`);
  await inTransaction(db, async (trx) => {
    await bumpConfigSerial(trx);
    const t = tables(trx);
    await t.deleteFrom('file_rules').where('rule_set', '=', n).execute();
    const res = await t.deleteFrom('file_rule_sets').where('name', '=', n).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw missing(n);
  });
}

export interface RulePlacement {
  /** Put the rule in front of this one (it then takes precedence); default: last. */
  before?: string;
  /** Replace a rule of the same name, keeping its place. */
  replace?: boolean;
}

/** Adds (or with `replace`, changes) a rule; returns the set as it now is. */
export async function addFileRule(db: Db, setName: string, input: FileRule, where: RulePlacement = {}): Promise<FileRuleSet> {
  const rule = normaliseFileRule(input);
  return inTransaction(db, async (trx) => {
    await bumpConfigSerial(trx);
    const set = await getFileRuleSet(trx, setName);
    if (!set) throw missing(setName);
    const rules = [...set.rules];
    const existing = rules.findIndex((r) => r.name === rule.name);
    if (existing >= 0 && !where.replace) throw new Error(`rule "${rule.name}" already exists in "${set.name}" (use --replace to change it)`);
    if (existing >= 0 && where.before === undefined) rules[existing] = rule;
    else {
      if (existing >= 0) rules.splice(existing, 1);
      let at = rules.length;
      if (where.before !== undefined) {
        at = rules.findIndex((r) => r.name === where.before);
        if (at < 0) throw new Error(`no rule "${where.before}" in "${set.name}" to put the new rule before`);
      }
      rules.splice(at, 0, rule);
    }
    const next = { ...set, rules };
    await writeSet(trx, next, Date.now());
    return next;
  });
}

export async function removeFileRule(db: Db, setName: string, ruleName: string): Promise<void> {
  await inTransaction(db, async (trx) => {
    await bumpConfigSerial(trx);
    const set = await getFileRuleSet(trx, setName);
    if (!set) throw missing(setName);
    const rules = set.rules.filter((r) => r.name !== ruleName);
    if (rules.length === set.rules.length) throw new Error(`no rule "${ruleName}" in "${set.name}" (see "hermes filerules show ${set.name}")`);
    await writeSet(trx, { ...set, rules }, Date.now());
  });
}

/** Puts the shipped default rules back into "default" (creating it if needed). */
export async function resetDefaultFileRuleSet(db: Db): Promise<FileRuleSet> {
  await inTransaction(db, async (trx) => {
    await bumpConfigSerial(trx);
    await writeSet(trx, DEFAULT_FILE_RULE_SET, Date.now());
  });
  return DEFAULT_FILE_RULE_SET;
}
