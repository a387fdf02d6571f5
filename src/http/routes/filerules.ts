// /api/v1/filerules: attachment rule sets (banned files) that filter policies name.
import { FILE_RULE_KINDS } from '../../pipeline/filter/attachments/rules.ts';
import { addRule, createRuleSet, deleteRuleSet, getRuleSet, listRuleSets, removeRule, resetRuleSet, testRuleSet, type FileRule } from '../../services/filerules-service.ts';
import { actorOf, okSchema, type RouteModule } from '../route-kit.ts';
import { listOf, messageText, nameParams, str, strings } from './filter-schemas.ts';

const fileRuleSchema = {
  type: 'object',
  required: ['name', 'kind', 'values', 'action', 'inArchives', 'description'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 64 },
    kind: { type: 'string', enum: Object.keys(FILE_RULE_KINDS) },
    values: strings,
    action: { type: 'string', enum: ['ban', 'allow'] },
    inArchives: { type: 'boolean' },
    description: str,
  },
} as const;

export const fileRuleSetSchema = { type: 'object', required: ['name', 'description', 'rules'], properties: { name: str, description: str, rules: { type: 'array', items: fileRuleSchema } } } as const;
const tags = ['filerules'];
const nameOf = (req: { params: unknown }) => (req.params as { name: string }).name;

export const fileRuleRoutes: RouteModule = (app, ctx) => {
  app.get('/api/v1/filerules', {
    config: { permission: 'filerules.read' },
    schema: { tags, summary: 'File rule sets', response: { 200: listOf({ type: 'object', properties: { name: str, description: str, rules: { type: 'integer' }, updatedAt: str } }) } },
  }, async (req) => ({ items: await listRuleSets(ctx.db, actorOf(req)) }));

  app.post('/api/v1/filerules', {
    config: { permission: 'filerules.write' },
    schema: {
      tags,
      summary: 'Create a rule set, empty or a copy of another (copyFrom)',
      body: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: { type: 'string', minLength: 1, maxLength: 64 }, description: str, copyFrom: str } },
      response: { 201: fileRuleSetSchema },
    },
  }, async (req, reply) => {
    const b = req.body as { name: string; description?: string; copyFrom?: string };
    return reply.status(201).send(await createRuleSet(ctx.db, actorOf(req), b.name, b));
  });

  app.get('/api/v1/filerules/:name', {
    config: { permission: 'filerules.read' },
    schema: { tags, summary: 'A rule set with its rules, in the order they are tried', params: nameParams, response: { 200: fileRuleSetSchema } },
  }, async (req) => getRuleSet(ctx.db, actorOf(req), nameOf(req)));

  app.delete('/api/v1/filerules/:name', {
    config: { permission: 'filerules.write' },
    schema: { tags, summary: 'Delete a rule set (policies naming it fall back to "default")', params: nameParams, response: { 200: okSchema } },
  }, async (req) => {
    await deleteRuleSet(ctx.db, actorOf(req), nameOf(req));
    return { ok: true };
  });

  app.post('/api/v1/filerules/:name/rules', {
    config: { permission: 'filerules.write' },
    schema: {
      tags,
      summary: 'Add a rule (last, or before another); replace: true changes a rule of that name',
      params: nameParams,
      body: { type: 'object', required: ['rule'], additionalProperties: false, properties: { rule: fileRuleSchema, before: str, replace: { type: 'boolean' } } },
      response: { 200: fileRuleSetSchema },
    },
  }, async (req) => {
    const b = req.body as { rule: FileRule; before?: string; replace?: boolean };
    return addRule(ctx.db, actorOf(req), nameOf(req), b.rule, { ...(b.before !== undefined ? { before: b.before } : {}), ...(b.replace ? { replace: true } : {}) });
  });

  app.delete('/api/v1/filerules/:name/rules/:rule', {
    config: { permission: 'filerules.write' },
    schema: { tags, summary: 'Remove a rule from a set', params: { type: 'object', required: ['name', 'rule'], properties: { name: str, rule: str } }, response: { 200: fileRuleSetSchema } },
  }, async (req) => removeRule(ctx.db, actorOf(req), nameOf(req), (req.params as { rule: string }).rule));

  app.post('/api/v1/filerules/:name/reset', {
    config: { permission: 'filerules.write' },
    schema: { tags, summary: 'Put the shipped rules back into "default"', params: nameParams, response: { 200: fileRuleSetSchema } },
  }, async (req) => resetRuleSet(ctx.db, actorOf(req), nameOf(req)));

  app.post('/api/v1/filerules/:name/test', {
    config: { permission: 'filerules.read' },
    schema: {
      tags,
      summary: "What the set bans among a message's attachments",
      params: nameParams,
      body: { type: 'object', required: ['message'], additionalProperties: false, properties: { message: messageText } },
      response: { 200: listOf({ type: 'object', properties: { path: str, detected: { type: 'string', nullable: true }, banned: { type: 'boolean' }, rule: str, reason: str } }) },
    },
  }, async (req) => ({ items: await testRuleSet(ctx.db, actorOf(req), nameOf(req), { message: Buffer.from((req.body as { message: string }).message, 'utf8') }) }));
};
