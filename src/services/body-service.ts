// Banners (inbound), disclaimers and signatures (outbound): their templates, the rules
// that pick them, exemptions, per-sender fields and sender groups; and a preview of what
// they do to a message. They act on the whole gateway's mail: resource "body".
import type { Db } from '../db/database.ts';
import { inTransaction } from '../db/transaction.ts';
import {
  addExemption,
  addGroupMember,
  BODY_KINDS,
  getSenderFields,
  listExemptions,
  listGroupMembers,
  listRules,
  listTemplates,
  loadBodyConfig,
  missingImages,
  normaliseAddress,
  removeExemption,
  removeGroupMember,
  removeRule,
  removeTemplate,
  saveRule,
  saveTemplate,
  setRuleEnabled,
  setSenderFields,
  type BodyKind,
  type TemplateImageInput,
} from '../db/repos/body-changes.ts';
import { listRelayDomains } from '../db/repos/relay-policy.ts';
import { applyBodyChanges } from '../pipeline/modify/apply-changes.ts';
import { buildBodyConfig } from '../pipeline/modify/body-config.ts';
import { domainOf } from '../pipeline/modify/choose-rules.ts';
import { assertCan, type Actor } from './actor.ts';
import { recordChange } from './audit-service.ts';
import { check, repo } from './repo-errors.ts';
import { ServiceError } from './service-error.ts';

export { BODY_KINDS, type BodyKind, type TemplateImageInput };

function kindArg(kind: string): BodyKind {
  if (!(BODY_KINDS as readonly string[]).includes(kind)) throw new ServiceError('invalid', `"${kind}" is not a body change: use ${BODY_KINDS.join(', ')}`, { kind: 'unknown' });
  return kind as BodyKind;
}

export interface BodyTemplate {
  id: number;
  name: string;
  kind: BodyKind;
  text: string | null;
  html: string | null;
  /** Names of its inline images ({{image.NAME}}). */
  images: string[];
  /** Images the HTML refers to that the template does not have. */
  missingImages: string[];
  updatedAt: string;
}

export async function listBodyTemplates(db: Db, actor: Actor, kind: string): Promise<BodyTemplate[]> {
  assertCan(actor, 'body.read');
  return (await listTemplates(db, kindArg(kind))).map((t) => ({
    id: t.id,
    name: t.name,
    kind: t.kind,
    text: t.text_body,
    html: t.html_body,
    images: t.images,
    missingImages: missingImages(t.html_body, t.images),
    updatedAt: new Date(Number(t.updated_at)).toISOString(),
  }));
}

export async function getBodyTemplate(db: Db, actor: Actor, kind: string, name: string): Promise<BodyTemplate> {
  const t = (await listBodyTemplates(db, actor, kind)).find((x) => x.name === name);
  if (!t) throw new ServiceError('not_found', `no ${kind} template ${name}`);
  return t;
}

/** Creates or replaces a template. Images are stored with it; the audit log records their names and sizes. */
export async function saveBodyTemplate(
  db: Db,
  actor: Actor,
  kind: string,
  input: { name: string; text?: string | null; html?: string | null; images?: TemplateImageInput[] },
): Promise<{ template: BodyTemplate; created: boolean }> {
  assertCan(actor, 'body.write');
  const k = kindArg(kind);
  const text = input.text ?? null;
  const html = input.html ?? null;
  if (text === null && html === null) throw new ServiceError('invalid', 'give --text/--text-file, --html/--html-file or both', { text: 'text or html required' });
  return inTransaction(db, async (trx) => {
    const before = (await listBodyTemplates(trx, actor, k)).find((x) => x.name === input.name.trim());
    const r = await repo(() => saveTemplate(trx, { name: input.name, kind: k, text, html, images: input.images ?? [] }), 'template');
    const template = await getBodyTemplate(trx, actor, k, input.name.trim());
    const images = (input.images ?? []).map((i) => ({ name: i.name, contentType: i.contentType, bytes: i.data.length }));
    await recordChange(trx, actor, { action: `${k}.template.save`, targetType: `${k}-template`, targetId: template.name, before, after: { ...template, ...(images.length ? { imagesAdded: images } : {}) } });
    return { template, created: r.created };
  });
}

export async function removeBodyTemplate(db: Db, actor: Actor, kind: string, name: string): Promise<void> {
  assertCan(actor, 'body.write');
  const k = kindArg(kind);
  await inTransaction(db, async (trx) => {
    const before = await getBodyTemplate(trx, actor, k, name);
    if (!(await repo(() => removeTemplate(trx, name)))) throw new ServiceError('not_found', `no ${k} template ${name}`);
    await recordChange(trx, actor, { action: `${k}.template.remove`, targetType: `${k}-template`, targetId: name, before });
  });
}

export interface BodyRule {
  id: number;
  kind: BodyKind;
  /** relay-domain | all for banners; address | group | domain | all for disclaimers and signatures. */
  scope: string;
  value: string;
  template: string;
  /** Also on mail whose recipients are all in our relay domains. */
  internal: boolean;
  enabled: boolean;
}

export async function listBodyRules(db: Db, actor: Actor, kind: string): Promise<BodyRule[]> {
  assertCan(actor, 'body.read');
  return (await listRules(db, kindArg(kind))).map((r) => ({ ...r, internal: !!r.internal, enabled: !!r.enabled }));
}

async function ruleById(db: Db, actor: Actor, kind: BodyKind, id: number): Promise<BodyRule> {
  const r = (await listBodyRules(db, actor, kind)).find((x) => x.id === id);
  if (!r) throw new ServiceError('not_found', `no ${kind} rule ${id}`);
  return r;
}

export async function addBodyRule(db: Db, actor: Actor, kind: string, input: { template: string; scope: string; value?: string; internal?: boolean }): Promise<BodyRule> {
  assertCan(actor, 'body.write');
  const k = kindArg(kind);
  return inTransaction(db, async (trx) => {
    const id = await repo(() => saveRule(trx, { kind: k, template: input.template, scope: input.scope, ...(input.value !== undefined ? { value: input.value } : {}), internal: !!input.internal }), 'scope');
    const after = await ruleById(trx, actor, k, id);
    await recordChange(trx, actor, { action: `${k}.rule.save`, targetType: `${k}-rule`, targetId: String(id), after });
    return after;
  });
}

export async function setBodyRuleEnabled(db: Db, actor: Actor, kind: string, id: number, enabled: boolean): Promise<BodyRule> {
  assertCan(actor, 'body.write');
  const k = kindArg(kind);
  return inTransaction(db, async (trx) => {
    const before = await ruleById(trx, actor, k, id);
    await setRuleEnabled(trx, k, id, enabled);
    const after = await ruleById(trx, actor, k, id);
    await recordChange(trx, actor, { action: `${k}.rule.${enabled ? 'enable' : 'disable'}`, targetType: `${k}-rule`, targetId: String(id), before, after });
    return after;
  });
}

export async function removeBodyRule(db: Db, actor: Actor, kind: string, id: number): Promise<void> {
  assertCan(actor, 'body.write');
  const k = kindArg(kind);
  await inTransaction(db, async (trx) => {
    const before = await ruleById(trx, actor, k, id);
    await removeRule(trx, k, id);
    await recordChange(trx, actor, { action: `${k}.rule.remove`, targetType: `${k}-rule`, targetId: String(id), before });
  });
}

export type BodyExemption = { type: string; value: string };

export async function listBodyExemptions(db: Db, actor: Actor, kind: string): Promise<BodyExemption[]> {
  assertCan(actor, 'body.read');
  return (await listExemptions(db, kindArg(kind))).map((e) => ({ type: e.type, value: e.value }));
}

/** Exempts an "address", a "domain" (with its subdomains) or a client "network" (CIDR). */
export async function addBodyExemption(db: Db, actor: Actor, kind: string, type: string, value: string): Promise<void> {
  assertCan(actor, 'body.write');
  const k = kindArg(kind);
  await inTransaction(db, async (trx) => {
    await repo(() => addExemption(trx, k, type, value), 'value');
    await recordChange(trx, actor, { action: `${k}.exemption.add`, targetType: `${k}-exemption`, targetId: `${type}:${value}`, after: { type, value } });
  });
}

export async function removeBodyExemption(db: Db, actor: Actor, kind: string, type: string, value: string): Promise<void> {
  assertCan(actor, 'body.write');
  const k = kindArg(kind);
  await inTransaction(db, async (trx) => {
    if (!(await repo(() => removeExemption(trx, k, type, value), 'value'))) throw new ServiceError('not_found', `no ${k} exemption ${type} ${value}`);
    await recordChange(trx, actor, { action: `${k}.exemption.remove`, targetType: `${k}-exemption`, targetId: `${type}:${value}`, before: { type, value } });
  });
}

export async function getSenderSignatureFields(db: Db, actor: Actor, address: string): Promise<Record<string, string>> {
  assertCan(actor, 'body.read');
  return repo(() => getSenderFields(db, address), 'address');
}

/** Sets fields of a sender for {{user.FIELD}} (an empty value removes a field; `replace` drops the others). */
export async function setSenderSignatureFields(db: Db, actor: Actor, address: string, fields: Record<string, string>, replace = false): Promise<Record<string, string>> {
  assertCan(actor, 'body.write');
  for (const [k, v] of Object.entries(fields)) if (typeof v !== 'string') throw new ServiceError('invalid', `field ${k} must be text`, { [k]: 'not text' });
  return inTransaction(db, async (trx) => {
    const before = await repo(() => getSenderFields(trx, address), 'address');
    const after = await repo(() => setSenderFields(trx, address, fields, replace), 'fields');
    const a = check(() => normaliseAddress(address), 'address');
    await recordChange(trx, actor, { action: 'signature.fields.set', targetType: 'sender-fields', targetId: a, domain: domainOf(a), before, after });
    return after;
  });
}

export interface SenderGroupMember {
  group: string;
  member: string;
}

export async function listSenderGroups(db: Db, actor: Actor, group?: string): Promise<SenderGroupMember[]> {
  assertCan(actor, 'body.read');
  return (await repo(() => listGroupMembers(db, group), 'group')).map((m) => ({ group: m.name, member: m.member }));
}

/** Adds an address, or *@domain, to a sender group. */
export async function addSenderGroupMember(db: Db, actor: Actor, group: string, member: string): Promise<SenderGroupMember> {
  assertCan(actor, 'body.write');
  return inTransaction(db, async (trx) => {
    await repo(() => addGroupMember(trx, group, member), 'member');
    const after = { group: group.trim().toLowerCase(), member: member.trim().toLowerCase() };
    await recordChange(trx, actor, { action: 'sender-group.add', targetType: 'sender-group', targetId: after.group, after });
    return after;
  });
}

export async function removeSenderGroupMember(db: Db, actor: Actor, group: string, member: string): Promise<void> {
  assertCan(actor, 'body.write');
  await inTransaction(db, async (trx) => {
    if (!(await repo(() => removeGroupMember(trx, group, member), 'member'))) throw new ServiceError('not_found', `${member} is not in group ${group}`);
    await recordChange(trx, actor, { action: 'sender-group.remove', targetType: 'sender-group', targetId: group.trim().toLowerCase(), before: { group, member } });
  });
}

export interface PreviewInput {
  /** The message: bytes of a file, or text (bare LF lines become CRLF, as SMTP carries them). */
  message: Buffer | string;
  from: string;
  to: string[];
  /** Default: outbound when the sender's domain is a relay domain. */
  direction?: 'inbound' | 'outbound';
  /** Client address, for network exemptions (default 192.0.2.1). */
  clientIp?: string;
}

export interface PreviewResult {
  direction: 'inbound' | 'outbound';
  changed: boolean;
  /** The message as it would leave. */
  message: Buffer;
  /** What each change did (banner, disclaimer, signature); null when no rules are configured. */
  changes: Record<string, unknown> | null;
}

/** A message as it would leave with the banner, disclaimer and signature that apply. */
export async function previewBodyChanges(db: Db, actor: Actor, input: PreviewInput): Promise<PreviewResult> {
  assertCan(actor, 'body.read');
  let message = typeof input.message === 'string' ? Buffer.from(input.message, 'utf8') : input.message;
  if (!message.length) throw new ServiceError('invalid', 'the message is empty: give a whole message, headers and body', { message: 'empty' });
  // SMTP carries CRLF lines; a message saved with LF is read the way the gateway would receive it.
  if (!message.includes('\r\n')) message = Buffer.from(message.toString('latin1').replace(/\n/g, '\r\n'), 'latin1');
  const recipients = input.to.map((s) => s.trim()).filter(Boolean);
  if (!recipients.length) throw new ServiceError('invalid', 'give at least one recipient', { to: 'required' });
  const relay = new Set((await listRelayDomains(db)).map((d) => d.domain));
  const outbound = input.direction ? input.direction === 'outbound' : relay.has(domainOf(input.from));
  const res = await applyBodyChanges(buildBodyConfig(await loadBodyConfig(db)), {
    message,
    fromOurNetwork: outbound,
    clientIp: input.clientIp ?? '192.0.2.1',
    envelopeSender: input.from,
    recipients,
    relayDomains: relay,
    receivedAt: new Date(),
  });
  return { direction: outbound ? 'outbound' : 'inbound', changed: res.changed, message: res.message, changes: (res.trace as Record<string, unknown> | undefined) ?? null };
}
