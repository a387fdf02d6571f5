// Body changes as data: templates (with inline images), rules choosing a template per
// relay domain, sender domain, sender address or sender group, exemptions, per-sender
// signature fields and the sender groups. Every write bumps config_serial, so running
// gateways use it from their next message on.
import type { Generated, Kysely } from 'kysely';
import type { Db } from '../database.ts';
import { inTransaction } from '../transaction.ts';
import { bumpConfigSerial } from '../../config/settings.ts';
import { parseCidr } from '../../smtp/cidr.ts';
import { normaliseDomain } from './relay-policy.ts';
import { imagesUsed, isFieldName, templateProblems } from '../../pipeline/modify/templates.ts';

export type BodyKind = 'banner' | 'disclaimer' | 'signature';
export const BODY_KINDS: readonly BodyKind[] = ['banner', 'disclaimer', 'signature'];
/** relay-domain: the recipient's relay domain (banners); the others match the sender. */
export type RuleScope = 'relay-domain' | 'domain' | 'address' | 'group' | 'all';
export type ExemptionType = 'address' | 'domain' | 'network';

export interface BodyTemplatesTable {
  id: Generated<number>;
  name: string;
  kind: BodyKind;
  text_body: string | null;
  html_body: string | null;
  created_at: number;
  updated_at: number;
}
export interface BodyTemplateImagesTable {
  template_id: number;
  name: string;
  content_type: string;
  filename: string;
  data: Buffer;
}
export interface BodyRulesTable {
  id: Generated<number>;
  kind: BodyKind;
  template_id: number;
  scope: RuleScope;
  value: string;
  /** Disclaimers and signatures: 1 = also on mail whose recipients are all in our relay domains. */
  internal: number;
  enabled: number;
  created_at: number;
}
export interface BodyExemptionsTable {
  id: Generated<number>;
  kind: BodyKind;
  type: ExemptionType;
  value: string;
  created_at: number;
}
export interface SenderFieldsTable {
  address: string;
  /** JSON object of string fields. */
  fields: string;
  updated_at: number;
}
export interface SenderGroupsTable {
  name: string;
  /** An address, or "*@domain". */
  member: string;
  created_at: number;
}

/** The tables of migration 5 (kept here, beside the only code that uses them). */
export interface BodyChangeTables {
  body_templates: BodyTemplatesTable;
  body_template_images: BodyTemplateImagesTable;
  body_rules: BodyRulesTable;
  body_exemptions: BodyExemptionsTable;
  sender_fields: SenderFieldsTable;
  sender_groups: SenderGroupsTable;
}

type BodyDb = Kysely<BodyChangeTables>;
/** The same connection, typed with these tables too (the shared schema.ts stays as it is). */
const tables = (db: Db): BodyDb => db as unknown as BodyDb;

function kindOf(kind: string): BodyKind {
  if (!(BODY_KINDS as readonly string[]).includes(kind)) throw new Error(`"${kind}" is not banner, disclaimer or signature`);
  return kind as BodyKind;
}

export function normaliseAddress(address: string): string {
  const a = address.trim().toLowerCase().replace(/^<|>$/g, '');
  if (!/^[^\s@]+@[^\s@]+$/.test(a)) throw new Error(`"${address}" is not an email address`);
  return a;
}

function normaliseGroupName(name: string): string {
  const n = name.trim().toLowerCase();
  if (!/^[a-z0-9][a-z0-9_.-]{0,63}$/.test(n)) throw new Error(`"${name}" is not a group name (letters, digits, "-", "_", ".")`);
  return n;
}

// ---- templates

export interface TemplateImageInput {
  name: string;
  contentType: string;
  filename: string;
  data: Buffer;
}

export interface TemplateInput {
  name: string;
  kind: string;
  text?: string | null;
  html?: string | null;
  images?: TemplateImageInput[];
}

export async function saveTemplate(db: Db, input: TemplateInput): Promise<{ id: number; created: boolean }> {
  const kind = kindOf(input.kind);
  const name = input.name.trim();
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) throw new Error(`"${input.name}" is not a template name (letters, digits, "-", "_", ".")`);
  const text = input.text ?? null;
  const html = input.html ?? null;
  if (!text && !html) throw new Error('a template needs a text or an HTML version (or both)');
  return inTransaction(db, async (trx0) => {
    const trx = tables(trx0 as unknown as Db);
    const existing = await trx.selectFrom('body_templates').selectAll().where('name', '=', name).executeTakeFirst();
    if (existing && existing.kind !== kind) throw new Error(`template ${name} is a ${existing.kind} template, not a ${kind} one`);
    const keptImages = existing ? await trx.selectFrom('body_template_images').select('name').where('template_id', '=', existing.id).execute() : [];
    const imageNames = [...new Set([...keptImages.map((i) => i.name), ...(input.images ?? []).map((i) => i.name.toLowerCase())])];
    const problems = [...(text ? templateProblems(text, false) : []), ...(html ? templateProblems(html, true, imageNames) : [])];
    if (problems.length) throw new Error(`template ${name}: ${problems.join('; ')}`);
    const now = Date.now();
    let id: number;
    if (existing) {
      await trx.updateTable('body_templates').set({ text_body: text, html_body: html, updated_at: now }).where('id', '=', existing.id).execute();
      id = existing.id;
    } else {
      const row = await trx.insertInto('body_templates').values({ name, kind, text_body: text, html_body: html, created_at: now, updated_at: now }).returning('id').executeTakeFirstOrThrow();
      id = row.id;
    }
    for (const img of input.images ?? []) {
      const imgName = img.name.toLowerCase();
      if (!isFieldName(imgName)) throw new Error(`"${img.name}" is not an image name (letters, digits, "-", "_")`);
      if (!/^image\/[a-z0-9.+-]+$/i.test(img.contentType)) throw new Error(`image ${img.name}: ${img.contentType} is not an image type`);
      await trx
        .insertInto('body_template_images')
        .values({ template_id: id, name: imgName, content_type: img.contentType.toLowerCase(), filename: img.filename, data: img.data })
        .onConflict((oc) => oc.columns(['template_id', 'name']).doUpdateSet({ content_type: img.contentType.toLowerCase(), filename: img.filename, data: img.data }))
        .execute();
    }
    await bumpConfigSerial(trx0 as unknown as Db);
    return { id, created: !existing };
  });
}

export interface TemplateSummary {
  id: number;
  name: string;
  kind: BodyKind;
  text_body: string | null;
  html_body: string | null;
  images: string[];
  updated_at: number;
}

export async function listTemplates(db: Db, kind?: string): Promise<TemplateSummary[]> {
  let q = tables(db).selectFrom('body_templates').selectAll();
  if (kind) q = q.where('kind', '=', kindOf(kind));
  const rows = await q.orderBy('name').execute();
  const imgs = await tables(db).selectFrom('body_template_images').select(['template_id', 'name']).execute();
  return rows.map((r) => ({ ...r, images: imgs.filter((i) => i.template_id === r.id).map((i) => i.name) }));
}

export async function removeTemplate(db: Db, name: string): Promise<boolean> {
  return inTransaction(db, async (trx0) => {
    const trx = tables(trx0 as unknown as Db);
    const row = await trx.selectFrom('body_templates').select('id').where('name', '=', name.trim()).executeTakeFirst();
    if (!row) return false;
    const used = await trx.selectFrom('body_rules').select('id').where('template_id', '=', row.id).execute();
    if (used.length) throw new Error(`template ${name} is used by ${used.length} rule(s) (ids ${used.map((u) => u.id).join(', ')}); remove them first`);
    await trx.deleteFrom('body_template_images').where('template_id', '=', row.id).execute();
    await trx.deleteFrom('body_templates').where('id', '=', row.id).execute();
    await bumpConfigSerial(trx0 as unknown as Db);
    return true;
  });
}

// ---- rules

export interface RuleInput {
  kind: string;
  template: string;
  scope: string;
  /** Domain, address or group name; ignored for "all". */
  value?: string;
  internal?: boolean;
}

function normaliseScopeValue(kind: BodyKind, scope: string, value: string | undefined): { scope: RuleScope; value: string } {
  const allowed: RuleScope[] = kind === 'banner' ? ['relay-domain', 'all'] : ['domain', 'address', 'group', 'all'];
  if (!(allowed as string[]).includes(scope)) throw new Error(`a ${kind} rule applies per ${allowed.join(', ')} (not "${scope}")`);
  const s = scope as RuleScope;
  if (s === 'all') return { scope: s, value: '*' };
  if (!value) throw new Error(`a ${s} rule needs a value`);
  if (s === 'address') return { scope: s, value: normaliseAddress(value) };
  if (s === 'group') return { scope: s, value: normaliseGroupName(value) };
  return { scope: s, value: normaliseDomain(value) };
}

export async function saveRule(db: Db, input: RuleInput): Promise<number> {
  const kind = kindOf(input.kind);
  const { scope, value } = normaliseScopeValue(kind, input.scope, input.value);
  return inTransaction(db, async (trx0) => {
    const trx = tables(trx0 as unknown as Db);
    const tpl = await trx.selectFrom('body_templates').select(['id', 'kind']).where('name', '=', input.template.trim()).executeTakeFirst();
    if (!tpl) throw new Error(`no template named ${input.template} (see "hermes ${kind} template list")`);
    if (tpl.kind !== kind) throw new Error(`template ${input.template} is a ${tpl.kind} template, not a ${kind} one`);
    if (scope === 'relay-domain') {
      const rd = await (trx0 as unknown as Db).selectFrom('relay_domains').select('domain').where('domain', '=', value).executeTakeFirst();
      if (!rd) throw new Error(`${value} is not a relay domain (add it with "hermes domain add ${value}")`);
    }
    const row = await trx
      .insertInto('body_rules')
      .values({ kind, template_id: tpl.id, scope, value, internal: input.internal ? 1 : 0, enabled: 1, created_at: Date.now() })
      .onConflict((oc) => oc.columns(['kind', 'scope', 'value']).doUpdateSet({ template_id: tpl.id, internal: input.internal ? 1 : 0, enabled: 1 }))
      .returning('id')
      .executeTakeFirstOrThrow();
    await bumpConfigSerial(trx0 as unknown as Db);
    return row.id;
  });
}

export interface RuleSummary {
  id: number;
  kind: BodyKind;
  scope: RuleScope;
  value: string;
  template: string;
  internal: number;
  enabled: number;
}

export async function listRules(db: Db, kind?: string): Promise<RuleSummary[]> {
  let q = tables(db)
    .selectFrom('body_rules')
    .innerJoin('body_templates', 'body_templates.id', 'body_rules.template_id')
    .select(['body_rules.id', 'body_rules.kind', 'body_rules.scope', 'body_rules.value', 'body_templates.name as template', 'body_rules.internal', 'body_rules.enabled']);
  if (kind) q = q.where('body_rules.kind', '=', kindOf(kind));
  return q.orderBy('body_rules.kind').orderBy('body_rules.id').execute();
}

export async function setRuleEnabled(db: Db, kind: string, id: number, enabled: boolean): Promise<boolean> {
  return inTransaction(db, async (trx0) => {
    const res = await tables(trx0 as unknown as Db).updateTable('body_rules').set({ enabled: enabled ? 1 : 0 }).where('id', '=', id).where('kind', '=', kindOf(kind)).executeTakeFirst();
    await bumpConfigSerial(trx0 as unknown as Db);
    return Number(res.numUpdatedRows) > 0;
  });
}

export async function removeRule(db: Db, kind: string, id: number): Promise<boolean> {
  return inTransaction(db, async (trx0) => {
    const res = await tables(trx0 as unknown as Db).deleteFrom('body_rules').where('id', '=', id).where('kind', '=', kindOf(kind)).executeTakeFirst();
    await bumpConfigSerial(trx0 as unknown as Db);
    return Number(res.numDeletedRows) > 0;
  });
}

// ---- exemptions

export function normaliseExemption(type: string, value: string): { type: ExemptionType; value: string } {
  if (type === 'address') return { type, value: normaliseAddress(value) };
  if (type === 'domain') return { type, value: normaliseDomain(value) };
  if (type === 'network') {
    parseCidr(value); // throws a precise error
    return { type, value: value.trim().toLowerCase() };
  }
  throw new Error(`an exemption is by address, domain or network (not "${type}")`);
}

export async function addExemption(db: Db, kind: string, type: string, value: string): Promise<void> {
  const k = kindOf(kind);
  const e = normaliseExemption(type, value);
  await inTransaction(db, async (trx0) => {
    await tables(trx0 as unknown as Db)
      .insertInto('body_exemptions')
      .values({ kind: k, type: e.type, value: e.value, created_at: Date.now() })
      .onConflict((oc) => oc.columns(['kind', 'type', 'value']).doNothing())
      .execute();
    await bumpConfigSerial(trx0 as unknown as Db);
  });
}

export async function removeExemption(db: Db, kind: string, type: string, value: string): Promise<boolean> {
  const k = kindOf(kind);
  const e = normaliseExemption(type, value);
  return inTransaction(db, async (trx0) => {
    const res = await tables(trx0 as unknown as Db).deleteFrom('body_exemptions').where('kind', '=', k).where('type', '=', e.type).where('value', '=', e.value).executeTakeFirst();
    await bumpConfigSerial(trx0 as unknown as Db);
    return Number(res.numDeletedRows) > 0;
  });
}

export function listExemptions(db: Db, kind?: string) {
  let q = tables(db).selectFrom('body_exemptions').select(['kind', 'type', 'value']);
  if (kind) q = q.where('kind', '=', kindOf(kind));
  return q.orderBy('kind').orderBy('type').orderBy('value').execute();
}

// ---- per-sender fields

export async function setSenderFields(db: Db, address: string, fields: Record<string, string>, replace = false): Promise<Record<string, string>> {
  const a = normaliseAddress(address);
  for (const k of Object.keys(fields)) if (!isFieldName(k)) throw new Error(`"${k}" is not a field name (letters, digits, "-", "_")`);
  return inTransaction(db, async (trx0) => {
    const trx = tables(trx0 as unknown as Db);
    const old = await trx.selectFrom('sender_fields').select('fields').where('address', '=', a).executeTakeFirst();
    const merged: Record<string, string> = { ...(replace || !old ? {} : (JSON.parse(old.fields) as Record<string, string>)) };
    for (const [k, v] of Object.entries(fields)) {
      if (v === '') delete merged[k.toLowerCase()];
      else merged[k.toLowerCase()] = v;
    }
    const json = JSON.stringify(merged);
    await trx
      .insertInto('sender_fields')
      .values({ address: a, fields: json, updated_at: Date.now() })
      .onConflict((oc) => oc.column('address').doUpdateSet({ fields: json, updated_at: Date.now() }))
      .execute();
    await bumpConfigSerial(trx0 as unknown as Db);
    return merged;
  });
}

export async function getSenderFields(db: Db, address: string): Promise<Record<string, string>> {
  const row = await tables(db).selectFrom('sender_fields').select('fields').where('address', '=', normaliseAddress(address)).executeTakeFirst();
  return row ? (JSON.parse(row.fields) as Record<string, string>) : {};
}

// ---- sender groups

export async function addGroupMember(db: Db, group: string, member: string): Promise<void> {
  const name = normaliseGroupName(group);
  const m = member.trim().toLowerCase();
  const value = m.startsWith('*@') ? `*@${normaliseDomain(m.slice(2))}` : normaliseAddress(m);
  await inTransaction(db, async (trx0) => {
    await tables(trx0 as unknown as Db)
      .insertInto('sender_groups')
      .values({ name, member: value, created_at: Date.now() })
      .onConflict((oc) => oc.columns(['name', 'member']).doNothing())
      .execute();
    await bumpConfigSerial(trx0 as unknown as Db);
  });
}

export async function removeGroupMember(db: Db, group: string, member: string): Promise<boolean> {
  return inTransaction(db, async (trx0) => {
    const res = await tables(trx0 as unknown as Db).deleteFrom('sender_groups').where('name', '=', normaliseGroupName(group)).where('member', '=', member.trim().toLowerCase()).executeTakeFirst();
    await bumpConfigSerial(trx0 as unknown as Db);
    return Number(res.numDeletedRows) > 0;
  });
}

export function listGroupMembers(db: Db, group?: string) {
  let q = tables(db).selectFrom('sender_groups').select(['name', 'member']);
  if (group) q = q.where('name', '=', normaliseGroupName(group));
  return q.orderBy('name').orderBy('member').execute();
}

// ---- everything the modify stage needs, in one read

export interface BodyConfigRows {
  templates: Array<Omit<BodyTemplatesTable, 'id'> & { id: number; images: TemplateImageInput[] }>;
  rules: Array<Omit<BodyRulesTable, 'id'> & { id: number }>;
  exemptions: Array<{ kind: BodyKind; type: ExemptionType; value: string }>;
  groups: Array<{ name: string; member: string }>;
  senderFields: Map<string, Record<string, string>>;
}

export async function loadBodyConfig(db: Db): Promise<BodyConfigRows> {
  const t = tables(db);
  const [templates, images, rules, exemptions, groups, fields] = await Promise.all([
    t.selectFrom('body_templates').selectAll().execute(),
    t.selectFrom('body_template_images').selectAll().execute(),
    t.selectFrom('body_rules').selectAll().where('enabled', '=', 1).execute(),
    t.selectFrom('body_exemptions').select(['kind', 'type', 'value']).execute(),
    t.selectFrom('sender_groups').select(['name', 'member']).execute(),
    t.selectFrom('sender_fields').select(['address', 'fields']).execute(),
  ]);
  return {
    templates: templates.map((tpl) => ({
      ...tpl,
      images: images.filter((i) => i.template_id === tpl.id).map((i) => ({ name: i.name, contentType: i.content_type, filename: i.filename, data: Buffer.from(i.data) })),
    })),
    rules,
    exemptions,
    groups,
    senderFields: new Map(fields.map((f) => [f.address, JSON.parse(f.fields) as Record<string, string>])),
  };
}

/** Image names the HTML refers to but the template lacks (for `template show`). */
export function missingImages(html: string | null, images: readonly string[]): string[] {
  return html ? imagesUsed(html).filter((n) => !images.includes(n)) : [];
}
