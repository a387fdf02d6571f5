// /api/v1/body-changes: banners (inbound), disclaimers and signatures (outbound), their
// rules and exemptions, sender groups, and a preview of what they do to a message.
import {
  addBodyExemption,
  addBodyRule,
  addSenderGroupMember,
  BODY_KINDS,
  listBodyExemptions,
  listBodyRules,
  listBodyTemplates,
  listSenderGroups,
  previewBodyChanges,
  removeBodyExemption,
  removeBodyRule,
  removeBodyTemplate,
  removeSenderGroupMember,
  saveBodyTemplate,
  setBodyRuleEnabled,
} from '../../services/body-service.ts';
import { actorOf, okSchema, type RouteModule } from '../route-kit.ts';
import { anyObject, listOf, messageText, str, strings, strOrNull } from './filter-schemas.ts';

const kind = { type: 'string', enum: [...BODY_KINDS] } as const;
const kindParams = { type: 'object', required: ['kind'], properties: { kind } } as const;
const templateSchema = { type: 'object', properties: { id: { type: 'integer' }, name: str, kind: str, text: strOrNull, html: strOrNull, images: strings, missingImages: strings, updatedAt: str } } as const;
const ruleSchema = { type: 'object', properties: { id: { type: 'integer' }, kind: str, scope: str, value: str, template: str, internal: { type: 'boolean' }, enabled: { type: 'boolean' } } } as const;
const tags = ['body-changes'];
const k = (req: { params: unknown }) => (req.params as { kind: string }).kind;

export const bodyChangeRoutes: RouteModule = (app, ctx) => {
  app.get('/api/v1/body-changes/:kind/templates', {
    config: { permission: 'body.read' },
    schema: { tags, summary: 'Templates of a banner, disclaimer or signature', params: kindParams, response: { 200: listOf(templateSchema) } },
  }, async (req) => ({ items: await listBodyTemplates(ctx.db, actorOf(req), k(req)) }));

  app.put('/api/v1/body-changes/:kind/templates/:name', {
    config: { permission: 'body.write' },
    schema: {
      tags,
      summary: 'Create or replace a template (text, HTML or both; images as base64 for {{image.NAME}})',
      params: { type: 'object', required: ['kind', 'name'], properties: { kind, name: { type: 'string', minLength: 1, maxLength: 64 } } },
      body: {
        type: 'object',
        additionalProperties: false,
        properties: {
          text: strOrNull,
          html: strOrNull,
          images: { type: 'array', items: { type: 'object', required: ['name', 'contentType', 'data'], additionalProperties: false, properties: { name: str, contentType: str, filename: str, data: { type: 'string', contentEncoding: 'base64' } } } },
        },
      },
      response: { 200: { type: 'object', properties: { created: { type: 'boolean' }, template: templateSchema } } },
    },
  }, async (req) => {
    const b = req.body as { text?: string | null; html?: string | null; images?: Array<{ name: string; contentType: string; filename?: string; data: string }> };
    const images = (b.images ?? []).map((i) => ({ name: i.name, contentType: i.contentType, filename: i.filename ?? i.name, data: Buffer.from(i.data, 'base64') }));
    return saveBodyTemplate(ctx.db, actorOf(req), k(req), { name: (req.params as { name: string }).name, text: b.text ?? null, html: b.html ?? null, images });
  });

  app.delete('/api/v1/body-changes/:kind/templates/:name', {
    config: { permission: 'body.write' },
    schema: { tags, summary: 'Remove a template (not while a rule uses it)', params: { type: 'object', required: ['kind', 'name'], properties: { kind, name: str } }, response: { 200: okSchema } },
  }, async (req) => {
    await removeBodyTemplate(ctx.db, actorOf(req), k(req), (req.params as { name: string }).name);
    return { ok: true };
  });

  app.get('/api/v1/body-changes/:kind/rules', {
    config: { permission: 'body.read' },
    schema: { tags, summary: 'Which template applies to which mail', params: kindParams, response: { 200: listOf(ruleSchema) } },
  }, async (req) => ({ items: await listBodyRules(ctx.db, actorOf(req), k(req)) }));

  app.post('/api/v1/body-changes/:kind/rules', {
    config: { permission: 'body.write' },
    schema: {
      tags,
      summary: 'Add a rule: banners per relay-domain or all; disclaimers and signatures per address, group, domain or all',
      params: kindParams,
      body: { type: 'object', required: ['template', 'scope'], additionalProperties: false, properties: { template: str, scope: { type: 'string', enum: ['relay-domain', 'domain', 'address', 'group', 'all'] }, value: str, internal: { type: 'boolean' } } },
      response: { 201: ruleSchema },
    },
  }, async (req, reply) => reply.status(201).send(await addBodyRule(ctx.db, actorOf(req), k(req), req.body as { template: string; scope: string })));

  app.patch('/api/v1/body-changes/:kind/rules/:id', {
    config: { permission: 'body.write' },
    schema: {
      tags,
      summary: 'Turn a rule on or off',
      params: { type: 'object', required: ['kind', 'id'], properties: { kind, id: { type: 'integer', minimum: 1 } } },
      body: { type: 'object', required: ['enabled'], additionalProperties: false, properties: { enabled: { type: 'boolean' } } },
      response: { 200: ruleSchema },
    },
  }, async (req) => setBodyRuleEnabled(ctx.db, actorOf(req), k(req), (req.params as { id: number }).id, (req.body as { enabled: boolean }).enabled));

  app.delete('/api/v1/body-changes/:kind/rules/:id', {
    config: { permission: 'body.write' },
    schema: { tags, summary: 'Remove a rule', params: { type: 'object', required: ['kind', 'id'], properties: { kind, id: { type: 'integer', minimum: 1 } } }, response: { 200: okSchema } },
  }, async (req) => {
    await removeBodyRule(ctx.db, actorOf(req), k(req), (req.params as { id: number }).id);
    return { ok: true };
  });

  const exemption = { type: 'object', required: ['type', 'value'], additionalProperties: false, properties: { type: { type: 'string', enum: ['address', 'domain', 'network'] }, value: { type: 'string', minLength: 1 } } } as const;
  app.get('/api/v1/body-changes/:kind/exemptions', {
    config: { permission: 'body.read' },
    schema: { tags, summary: 'Senders and client networks that never get it', params: kindParams, response: { 200: listOf(exemption) } },
  }, async (req) => ({ items: await listBodyExemptions(ctx.db, actorOf(req), k(req)) }));
  app.post('/api/v1/body-changes/:kind/exemptions', {
    config: { permission: 'body.write' },
    schema: { tags, summary: 'Exempt an address, a domain (with subdomains) or a client network (CIDR)', params: kindParams, body: exemption, response: { 201: exemption } },
  }, async (req, reply) => {
    const b = req.body as { type: string; value: string };
    await addBodyExemption(ctx.db, actorOf(req), k(req), b.type, b.value);
    return reply.status(201).send(b);
  });
  app.delete('/api/v1/body-changes/:kind/exemptions', {
    config: { permission: 'body.write' },
    schema: { tags, summary: 'Remove an exemption', params: kindParams, querystring: exemption, response: { 200: okSchema } },
  }, async (req) => {
    const q = req.query as { type: string; value: string };
    await removeBodyExemption(ctx.db, actorOf(req), k(req), q.type, q.value);
    return { ok: true };
  });

  const member = { type: 'object', required: ['group', 'member'], additionalProperties: false, properties: { group: { type: 'string', minLength: 1 }, member: { type: 'string', minLength: 1 } } } as const;
  app.get('/api/v1/body-changes/sender-groups', {
    config: { permission: 'body.read' },
    schema: { tags, summary: 'Sender groups and their members', querystring: { type: 'object', properties: { group: str } }, response: { 200: listOf(member) } },
  }, async (req) => ({ items: await listSenderGroups(ctx.db, actorOf(req), (req.query as { group?: string }).group) }));
  app.post('/api/v1/body-changes/sender-groups', {
    config: { permission: 'body.write' },
    schema: { tags, summary: 'Add an address, or *@domain, to a group', body: member, response: { 201: member } },
  }, async (req, reply) => {
    const b = req.body as { group: string; member: string };
    return reply.status(201).send(await addSenderGroupMember(ctx.db, actorOf(req), b.group, b.member));
  });
  app.delete('/api/v1/body-changes/sender-groups', {
    config: { permission: 'body.write' },
    schema: { tags, summary: 'Remove a member from a group', querystring: member, response: { 200: okSchema } },
  }, async (req) => {
    const q = req.query as { group: string; member: string };
    await removeSenderGroupMember(ctx.db, actorOf(req), q.group, q.member);
    return { ok: true };
  });

  app.post('/api/v1/body-changes/preview', {
    config: { permission: 'body.read' },
    schema: {
      tags,
      summary: 'A message as it would leave with the banner, disclaimer and signature that apply, and what changed',
      body: {
        type: 'object',
        required: ['message', 'from', 'to'],
        additionalProperties: false,
        properties: { message: messageText, from: str, to: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } }, direction: { type: 'string', enum: ['inbound', 'outbound'] }, clientIp: str },
      },
      response: { 200: { type: 'object', required: ['direction', 'changed', 'message', 'changes'], properties: { direction: str, changed: { type: 'boolean' }, message: str, changes: { ...anyObject, nullable: true } } } },
    },
  }, async (req) => {
    const r = await previewBodyChanges(ctx.db, actorOf(req), req.body as { message: string; from: string; to: string[] });
    return { ...r, message: r.message.toString('utf8') };
  });
};
