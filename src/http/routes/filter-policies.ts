// /api/v1/filter-policies: spam levels and actions, and who they apply to.
import { POLICY_ACTIONS } from '../../services/filter-policy-service.ts';
import {
  assignFilterPolicy,
  createFilterPolicy,
  getFilterPolicy,
  listFilterPolicies,
  listPolicyAssignments,
  removeFilterPolicy,
  resolvePolicyFor,
  unassignFilterPolicy,
  updateFilterPolicy,
  type PolicyFields,
} from '../../services/filter-policy-service.ts';
import { actorOf, okSchema, pageOf, pageQuery, type RouteModule } from '../route-kit.ts';
import { bool, listOf, nameParams, numOrNull, str, strOrNull } from './filter-schemas.ts';

const action = { type: 'string', enum: [...POLICY_ACTIONS] } as const;

const fields = {
  description: strOrNull,
  tagScore: numOrNull,
  quarantineScore: numOrNull,
  rejectScore: numOrNull,
  spamAction: action,
  malwareAction: action,
  bannedAction: action,
  badheaderAction: action,
  subjectTag: { type: 'string', maxLength: 100 },
  spamChecks: bool,
  fileRules: strOrNull,
} as const;

export const filterPolicySchema = {
  type: 'object',
  required: ['name', 'tagScore', 'quarantineScore', 'rejectScore', 'spamAction', 'malwareAction', 'bannedAction', 'badheaderAction', 'subjectTag', 'spamChecks', 'fileRules'],
  properties: { name: str, ...fields, createdAt: { type: 'string', format: 'date-time' }, updatedAt: { type: 'string', format: 'date-time' } },
} as const;

export const assignmentSchema = {
  type: 'object',
  required: ['scope', 'target', 'policy'],
  properties: { scope: { type: 'string', enum: ['recipient', 'domain', 'default'] }, target: str, policy: str },
} as const;

const tags = ['filter-policies'];

export const filterPolicyRoutes: RouteModule = (app, ctx) => {
  app.get('/api/v1/filter-policies', {
    config: { permission: 'policies.read' },
    schema: { tags, summary: 'List filter policies', response: { 200: listOf(filterPolicySchema) } },
  }, async (req) => ({ items: await listFilterPolicies(ctx.db, actorOf(req)) }));

  app.post('/api/v1/filter-policies', {
    config: { permission: 'policies.write' },
    schema: {
      tags,
      summary: 'Create a filter policy (unset fields take the defaults: tag 2, quarantine 5, reject 15)',
      body: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: { type: 'string', minLength: 1, maxLength: 63 }, ...fields } },
      response: { 201: filterPolicySchema },
    },
  }, async (req, reply) => {
    const { name, ...f } = req.body as { name: string } & PolicyFields;
    return reply.status(201).send(await createFilterPolicy(ctx.db, actorOf(req), name, f));
  });

  app.get('/api/v1/filter-policies/assignments', {
    config: { permission: 'policies.read' },
    schema: { tags, summary: 'Who has which policy (a domain administrator sees its domains)', querystring: pageQuery(), response: { 200: pageOf(assignmentSchema) } },
  }, async (req) => listPolicyAssignments(ctx.db, actorOf(req), req.query as { cursor?: string; limit?: number }));

  app.put('/api/v1/filter-policies/assignments', {
    config: { permission: 'policies.write' },
    schema: {
      tags,
      summary: 'Apply a policy to a recipient (user@domain), a domain (and its subdomains), or "default"',
      body: { type: 'object', required: ['target', 'policy'], additionalProperties: false, properties: { target: { type: 'string', minLength: 1 }, policy: { type: 'string', minLength: 1 } } },
      response: { 200: assignmentSchema },
    },
  }, async (req) => {
    const b = req.body as { target: string; policy: string };
    return assignFilterPolicy(ctx.db, actorOf(req), b.target, b.policy);
  });

  app.delete('/api/v1/filter-policies/assignments/:target', {
    config: { permission: 'policies.write' },
    schema: { tags, summary: 'Remove the policy of a recipient or domain (the default applies again)', params: { type: 'object', required: ['target'], properties: { target: { type: 'string', minLength: 1 } } }, response: { 200: okSchema } },
  }, async (req) => {
    await unassignFilterPolicy(ctx.db, actorOf(req), (req.params as { target: string }).target);
    return { ok: true };
  });

  app.get('/api/v1/filter-policies/resolve', {
    config: { permission: 'policies.read' },
    schema: {
      tags,
      summary: 'Which policy applies to an address, and why',
      querystring: { type: 'object', required: ['address'], properties: { address: { type: 'string', minLength: 1 } } },
      response: { 200: { type: 'object', required: ['address', 'policy', 'via'], properties: { address: str, policy: str, via: str } } },
    },
  }, async (req) => resolvePolicyFor(ctx.db, actorOf(req), (req.query as { address: string }).address));

  app.get('/api/v1/filter-policies/:name', {
    config: { permission: 'policies.read' },
    schema: { tags, summary: 'One filter policy', params: nameParams, response: { 200: filterPolicySchema } },
  }, async (req) => getFilterPolicy(ctx.db, actorOf(req), (req.params as { name: string }).name));

  app.patch('/api/v1/filter-policies/:name', {
    config: { permission: 'policies.write' },
    schema: { tags, summary: 'Change a filter policy', params: nameParams, body: { type: 'object', additionalProperties: false, minProperties: 1, properties: fields }, response: { 200: filterPolicySchema } },
  }, async (req) => updateFilterPolicy(ctx.db, actorOf(req), (req.params as { name: string }).name, req.body as PolicyFields));

  app.delete('/api/v1/filter-policies/:name', {
    config: { permission: 'policies.write' },
    schema: { tags, summary: 'Delete a policy that is not assigned', params: nameParams, response: { 200: okSchema } },
  }, async (req) => {
    await removeFilterPolicy(ctx.db, actorOf(req), (req.params as { name: string }).name);
    return { ok: true };
  });
};
