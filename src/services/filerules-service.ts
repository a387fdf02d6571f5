// Attachment rule sets (banned files): named, ordered rule lists that filter policies
// name, and what a set bans among given files or a message's attachments.
import PostalMime, { type Email } from '../pipeline/mime/postal-mime.ts';
import type { Db } from '../db/database.ts';
import { inTransaction } from '../db/transaction.ts';
import {
  addFileRule,
  createFileRuleSet,
  deleteFileRuleSet,
  getFileRuleSet,
  listFileRuleSets,
  normaliseRuleSetName,
  removeFileRule,
  resetDefaultFileRuleSet,
  type RulePlacement,
} from '../db/repos/file-rules.ts';
import { DEFAULT_RULE_SET_NAME } from '../pipeline/filter/attachments/default-rules.ts';
import { inspectEmail } from '../pipeline/filter/attachments/inspect.ts';
import { evaluateFileRuleSet, type FileRule, type FileRuleSet } from '../pipeline/filter/attachments/rules.ts';
import { assertCan, type Actor } from './actor.ts';
import { recordChange } from './audit-service.ts';
import { check, repo } from './repo-errors.ts';
import { ServiceError } from './service-error.ts';

export type { FileRule, FileRuleSet, RulePlacement };

export interface FileRuleSetSummary {
  name: string;
  description: string;
  rules: number;
  updatedAt: string;
}

export async function listRuleSets(db: Db, actor: Actor): Promise<FileRuleSetSummary[]> {
  assertCan(actor, 'filerules.read');
  return (await listFileRuleSets(db)).map((s) => ({ name: s.name, description: s.description, rules: s.rules, updatedAt: new Date(s.updated_at).toISOString() }));
}

async function mustGet(db: Db, name: string): Promise<FileRuleSet> {
  const set = await repo(() => getFileRuleSet(db, name), 'name');
  if (!set) throw new ServiceError('not_found', `no file rule set "${name}" (see "hermes filerules list")`);
  return set;
}

export async function getRuleSet(db: Db, actor: Actor, name: string): Promise<FileRuleSet> {
  assertCan(actor, 'filerules.read');
  return mustGet(db, name);
}

/** A new set, empty or a copy of `copyFrom`. */
export async function createRuleSet(db: Db, actor: Actor, name: string, o: { description?: string; copyFrom?: string } = {}): Promise<FileRuleSet> {
  assertCan(actor, 'filerules.write');
  return inTransaction(db, async (trx) => {
    const set = await repo(() => createFileRuleSet(trx, name, o.description ?? '', o.copyFrom), 'name');
    await recordChange(trx, actor, { action: 'filerules.create', targetType: 'file-rule-set', targetId: set.name, after: set });
    return set;
  });
}

export async function deleteRuleSet(db: Db, actor: Actor, name: string): Promise<void> {
  assertCan(actor, 'filerules.write');
  await inTransaction(db, async (trx) => {
    const n = check(() => normaliseRuleSetName(name), 'name');
    if (n === DEFAULT_RULE_SET_NAME) {
      throw new ServiceError('conflict', `the "${DEFAULT_RULE_SET_NAME}" rule set cannot be deleted (edit it, or "hermes filerules reset ${DEFAULT_RULE_SET_NAME}")`);
    }
    const before = await mustGet(trx, n);
    await repo(() => deleteFileRuleSet(trx, n));
    await recordChange(trx, actor, { action: 'filerules.delete', targetType: 'file-rule-set', targetId: n, before });
  });
}

/** Adds (or with `replace`, changes) a rule; returns the set as it now is. */
export async function addRule(db: Db, actor: Actor, setName: string, rule: FileRule, where: RulePlacement = {}): Promise<FileRuleSet> {
  assertCan(actor, 'filerules.write');
  return inTransaction(db, async (trx) => {
    const before = await mustGet(trx, setName);
    const after = await repo(() => addFileRule(trx, setName, rule, where), 'rule');
    await recordChange(trx, actor, { action: 'filerules.rule.save', targetType: 'file-rule-set', targetId: after.name, before, after });
    return after;
  });
}

export async function removeRule(db: Db, actor: Actor, setName: string, ruleName: string): Promise<FileRuleSet> {
  assertCan(actor, 'filerules.write');
  return inTransaction(db, async (trx) => {
    const before = await mustGet(trx, setName);
    await repo(() => removeFileRule(trx, setName, ruleName));
    const after = await mustGet(trx, setName);
    await recordChange(trx, actor, { action: 'filerules.rule.remove', targetType: 'file-rule-set', targetId: after.name, before, after });
    return after;
  });
}

/** Puts the shipped rules back into the "default" set. */
export async function resetRuleSet(db: Db, actor: Actor, name: string): Promise<FileRuleSet> {
  assertCan(actor, 'filerules.write');
  if (name.trim().toLowerCase() !== DEFAULT_RULE_SET_NAME) throw new ServiceError('invalid', `only the "${DEFAULT_RULE_SET_NAME}" set has shipped rules to reset to`, { name: 'not default' });
  return inTransaction(db, async (trx) => {
    const before = await repo(() => getFileRuleSet(trx, DEFAULT_RULE_SET_NAME));
    const after = await resetDefaultFileRuleSet(trx);
    await recordChange(trx, actor, { action: 'filerules.reset', targetType: 'file-rule-set', targetId: DEFAULT_RULE_SET_NAME, before, after });
    return after;
  });
}

export interface TestedFile {
  path: string;
  detected: string | null;
  banned: boolean;
  rule?: string;
  reason?: string;
}

/** A file to judge: a whole message (its attachments are judged), or one attachment. */
export type TestInput = { message: Buffer } | { filename: string; content: Buffer };

/** What a set bans among the given messages' attachments or files. */
export async function testRuleSet(db: Db, actor: Actor, setName: string, input: TestInput): Promise<TestedFile[]> {
  assertCan(actor, 'filerules.read');
  const set = await mustGet(db, setName);
  const email: Email =
    'message' in input
      ? await PostalMime.parse(input.message)
      : ({ headers: [], headerLines: [], attachments: [{ filename: input.filename, mimeType: 'application/octet-stream', disposition: 'attachment', content: input.content }] } as unknown as Email);
  const files = (await inspectEmail(email)).files;
  const banned = evaluateFileRuleSet(set, files);
  return files.map((f) => {
    const b = banned.find((x) => x.filename === f.path);
    return { path: f.path, detected: f.detected ? f.detected.description : null, banned: !!b, ...(b ? { rule: b.rule, reason: b.reason } : {}) };
  });
}
