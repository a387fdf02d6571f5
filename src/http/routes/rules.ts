// /api/v1/rules: message rules, and "test this rule on a message".
import { RULE_ACTIONS, RULE_FIELDS, RULE_OPS } from '../../pipeline/filter/rules/types.ts';
import {
  disableMessageRule,
  enableMessageRule,
  getMessageRule,
  listMessageRules,
  removeMessageRule,
  saveMessageRule,
  testOneRule,
  type RuleInput,
} from '../../services/rules-service.ts';
import { ServiceError } from '../../services/service-error.ts';
import { actorOf, okSchema, type RouteModule } from '../route-kit.ts';
import { listOf, messageText, nameParams, str, strings, strOrNull } from './filter-schemas.ts';

const conditionSchema = {
  type: 'object',
  required: ['field', 'op', 'value'],
  additionalProperties: false,
  properties: {
    field: { type: 'string', enum: [...RULE_FIELDS] },
    header: { type: 'string', description: 'for field "header": the header name, e.g. Subject' },
    op: { type: 'string', enum: [...RULE_OPS] },
    value: { type: ['string', 'number'], description: 'text or pattern; bytes for size' },
    caseSensitive: { type: 'boolean' },
    negate: { type: 'boolean' },
  },
} as const;

const actionSchema = {
  type: 'object',
  required: ['action'],
  additionalProperties: false,
  properties: { action: { type: 'string', enum: [...RULE_ACTIONS] }, value: { type: ['string', 'number'] } },
} as const;

export const ruleSchema = {
  type: 'object',
  required: ['name', 'description', 'enabled', 'priority', 'match', 'conditions', 'actions'],
  properties: {
    id: { type: 'integer' },
    name: str,
    description: strOrNull,
    enabled: { type: 'boolean' },
    priority: { type: 'integer' },
    match: { type: 'string', enum: ['all', 'any'] },
    conditions: { type: 'array', items: conditionSchema },
    actions: { type: 'array', items: actionSchema },
  },
} as const;

const ruleBody = {
  type: 'object',
  required: ['name', 'conditions', 'actions'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 64 },
    description: strOrNull,
    enabled: { type: 'boolean' },
    priority: { type: 'integer' },
    match: { type: 'string', enum: ['all', 'any'] },
    conditions: { type: 'array', minItems: 1, items: conditionSchema },
    actions: { type: 'array', minItems: 1, items: actionSchema },
  },
} as const;

const tags = ['rules'];
const nameOf = (req: { params: unknown }) => (req.params as { name: string }).name;

export const ruleRoutes: RouteModule = (app, ctx) => {
  app.get('/api/v1/rules', {
    config: { permission: 'rules.read' },
    schema: { tags, summary: 'Message rules, in the order they run', response: { 200: listOf(ruleSchema) } },
  }, async (req) => ({ items: await listMessageRules(ctx.db, actorOf(req)) }));

  app.post('/api/v1/rules', {
    config: { permission: 'rules.write' },
    schema: { tags, summary: 'Add a message rule (enabled unless enabled: false)', body: ruleBody, response: { 201: ruleSchema } },
  }, async (req, reply) => reply.status(201).send(await saveMessageRule(ctx.db, actorOf(req), req.body as RuleInput)));

  app.post('/api/v1/rules/test', {
    config: { permission: 'rules.read' },
    schema: {
      tags,
      summary: 'Test a rule (a stored one by name, or one not yet saved) on a message: does it match, and which conditions held',
      body: {
        type: 'object',
        required: ['message'],
        additionalProperties: false,
        properties: {
          name: { type: 'string', minLength: 1, description: 'a stored rule' },
          rule: ruleBody,
          message: messageText,
          from: { type: 'string', description: 'envelope sender (default: the From address)' },
          to: { ...strings, description: 'envelope recipients (default: the To and Cc addresses)' },
        },
      },
      response: {
        200: {
          type: 'object',
          required: ['rule', 'matched', 'envelope', 'conditions', 'actions'],
          properties: {
            rule: str,
            matched: { type: 'boolean' },
            envelope: { type: 'object', properties: { from: str, to: strings } },
            conditions: { type: 'array', items: { type: 'object', properties: { condition: conditionSchema, held: { type: 'boolean' } } } },
            actions: { type: 'array', items: actionSchema },
            recipients: strings,
          },
        },
      },
    },
  }, async (req) => {
    const b = req.body as { name?: string; rule?: RuleInput; message: string; from?: string; to?: string[] };
    const rule = b.rule ?? (b.name ? { name: b.name } : null);
    if (!rule || (b.rule && b.name)) {
      throw new ServiceError('invalid', 'give either the name of a stored rule or a rule to try, not both', { rule: 'name or rule' });
    }
    return testOneRule(ctx.db, actorOf(req), rule, b.message, { ...(b.from !== undefined ? { from: b.from } : {}), ...(b.to ? { to: b.to } : {}) });
  });

  app.get('/api/v1/rules/:name', {
    config: { permission: 'rules.read' },
    schema: { tags, summary: 'One message rule', params: nameParams, response: { 200: ruleSchema } },
  }, async (req) => getMessageRule(ctx.db, actorOf(req), nameOf(req)));

  app.put('/api/v1/rules/:name', {
    config: { permission: 'rules.write' },
    schema: { tags, summary: 'Replace a message rule (or create it)', params: nameParams, body: { ...ruleBody, required: ['conditions', 'actions'] }, response: { 200: ruleSchema } },
  }, async (req) => saveMessageRule(ctx.db, actorOf(req), { ...(req.body as RuleInput), name: nameOf(req) }, { replace: true }));

  app.post('/api/v1/rules/:name/enable', {
    config: { permission: 'rules.write' },
    schema: {
      tags,
      summary: 'Enable a rule; target sets the address of its redirect and bcc actions (the shipped examples need one)',
      params: nameParams,
      body: { type: 'object', nullable: true, additionalProperties: false, properties: { target: { type: 'string' } } },
      response: { 200: ruleSchema },
    },
  }, async (req) => enableMessageRule(ctx.db, actorOf(req), nameOf(req), (req.body as { target?: string } | null)?.target ? { target: (req.body as { target: string }).target } : {}));

  app.post('/api/v1/rules/:name/disable', {
    config: { permission: 'rules.write' },
    schema: { tags, summary: 'Disable a rule (kept, not evaluated)', params: nameParams, response: { 200: ruleSchema } },
  }, async (req) => disableMessageRule(ctx.db, actorOf(req), nameOf(req)));

  app.delete('/api/v1/rules/:name', {
    config: { permission: 'rules.write' },
    schema: { tags, summary: 'Delete a rule', params: nameParams, response: { 200: okSchema } },
  }, async (req) => {
    await removeMessageRule(ctx.db, actorOf(req), nameOf(req));
    return { ok: true };
  });
};
