// /api/v1/quarantine: held messages. Search, headers, a safe rendering, release, learn,
// delete, bulk actions. Releases go through the running gateway's acceptor, as mail
// released from the CLI does, so a released message is queued durably before the answer.
import { SqlBayesStore } from '../../db/repos/bayes-store.ts';
import { bayesLearner } from '../../quarantine/bayes-learner.ts';
import {
  BULK_ACTIONS,
  bulkQuarantine,
  deleteQuarantined,
  getQuarantineItem,
  learnQuarantined,
  listQuarantine,
  releaseQuarantined,
  renderQuarantined,
  type BulkAction,
  type QuarantineDeps,
  type QuarantineQuery,
} from '../../services/quarantine-service.ts';
import { ServiceError } from '../../services/service-error.ts';
import type { HttpContext } from '../context.ts';
import { actorOf, idParams, pageOf, pageQuery, type RouteModule } from '../route-kit.ts';
import { anyObject, bool, nstr, num, obj, str } from './schemas.ts';

const itemSchema = obj(
  {
    id: str, queueId: str, receivedAt: str, heldAt: str, direction: str, from: str, headerFrom: nstr, subject: nstr, messageId: nstr,
    category: str, score: { type: 'number', nullable: true }, reason: str, size: num, state: str,
    recipients: { type: 'array', items: obj({ address: str, state: str, releasedAt: nstr, releasedAs: nstr }) },
  },
  ['id', 'category', 'state'],
);
const detailSchema = obj({
  ...itemSchema.properties,
  symbols: { type: 'array', items: obj({ name: str, score: num, description: str }) },
  headers: { type: 'array', items: obj({ name: str, value: str }) },
});
const renderingSchema = obj({
  kind: { type: 'string', enum: ['html', 'text'] },
  html: nstr,
  text: str,
  blockedRemote: num,
  attachments: { type: 'array', items: obj({ filename: nstr, mimeType: str, size: num }) },
});

function depsOf(ctx: HttpContext): QuarantineDeps {
  if (!ctx.gateway) throw new ServiceError('unavailable', 'the quarantine is served by a running gateway; start it with "hermes start"');
  return { db: ctx.db, store: ctx.gateway.quarantine.service, learn: bayesLearner(new SqlBayesStore(ctx.db)) };
}

export const quarantineRoutes: RouteModule = (app, ctx) => {
  const id = (req: { params: unknown }) => (req.params as { id: string }).id;

  app.get('/api/v1/quarantine', {
    config: { permission: 'quarantine.read' },
    schema: {
      tags: ['quarantine'],
      summary: 'Held messages, newest first, filtered on the server',
      querystring: pageQuery({ recipient: str, sender: str, category: str, minScore: num, from: str, to: str, state: { type: 'string', enum: ['held', 'released', 'deleted', 'all'] } }),
      response: { 200: pageOf(itemSchema) },
    },
  }, async (req) => listQuarantine(depsOf(ctx), actorOf(req), req.query as QuarantineQuery));

  app.get('/api/v1/quarantine/:id', {
    config: { permission: 'quarantine.read' },
    schema: { tags: ['quarantine'], summary: 'A held message: why, its checks and its headers', params: idParams, response: { 200: detailSchema } },
  }, async (req) => getQuarantineItem(depsOf(ctx), actorOf(req), id(req), { headers: true }));

  app.get('/api/v1/quarantine/:id/rendering', {
    config: { permission: 'quarantine.read' },
    schema: {
      tags: ['quarantine'],
      summary: 'The body made safe to look at: text, or sanitised HTML without scripts, and remote content blocked unless allowRemote',
      params: idParams,
      querystring: { type: 'object', properties: { allowRemote: bool } },
      response: { 200: renderingSchema },
    },
  }, async (req) => renderQuarantined(depsOf(ctx), actorOf(req), id(req), { allowRemote: (req.query as { allowRemote?: boolean }).allowRemote === true }));

  app.post('/api/v1/quarantine/:id/release', {
    config: { permission: 'quarantine.write' },
    schema: {
      tags: ['quarantine'],
      summary: 'Release to its recipients (all, or those listed); learnHam teaches Bayes it was not spam',
      params: idParams,
      body: { type: 'object', additionalProperties: false, properties: { recipients: { type: 'array', items: str }, learnHam: bool } },
      response: { 200: anyObject },
    },
  }, async (req) => releaseQuarantined(depsOf(ctx), actorOf(req), id(req), (req.body ?? {}) as { recipients?: string[]; learnHam?: boolean }));

  app.post('/api/v1/quarantine/:id/learn', {
    config: { permission: 'quarantine.write' },
    schema: {
      tags: ['quarantine'],
      summary: 'Teach Bayes that this message is spam or ham',
      params: idParams,
      body: { type: 'object', additionalProperties: false, required: ['as'], properties: { as: { type: 'string', enum: ['spam', 'ham'] } } },
      response: { 200: obj({ id: str, learned: str }) },
    },
  }, async (req) => learnQuarantined(depsOf(ctx), actorOf(req), id(req), (req.body as { as: 'spam' | 'ham' }).as));

  app.delete('/api/v1/quarantine/:id', {
    config: { permission: 'quarantine.write' },
    schema: { tags: ['quarantine'], summary: 'Delete a held message for good', params: idParams, response: { 200: obj({ id: str }) } },
  }, async (req) => deleteQuarantined(depsOf(ctx), actorOf(req), id(req)));

  app.post('/api/v1/quarantine/bulk', {
    config: { permission: 'quarantine.write' },
    schema: {
      tags: ['quarantine'],
      summary: 'One action on up to 500 held messages; each succeeds or fails on its own',
      body: { type: 'object', additionalProperties: false, required: ['ids', 'action'], properties: { ids: { type: 'array', items: str, minItems: 1, maxItems: 500 }, action: { type: 'string', enum: [...BULK_ACTIONS] } } },
      response: { 200: { type: 'object', required: ['results'], properties: { results: { type: 'array', items: obj({ id: str, ok: bool, error: anyObject }) } } } },
    },
  }, async (req) => {
    const b = req.body as { ids: string[]; action: BulkAction };
    return { results: await bulkQuarantine(depsOf(ctx), actorOf(req), b.ids, b.action) };
  });
};
