// /api/v1/queue: messages waiting for delivery; retry, hold, release, delete.
import { deleteQueued, holdQueued, listQueue, releaseQueued, retryQueue, type QueueQuery } from '../../services/queue-service.ts';
import { actorOf, idParams, pageOf, pageQuery, type RouteModule } from '../route-kit.ts';
import { ndate, nstr, num, obj, str } from './schemas.ts';

const entrySchema = obj(
  { id: str, receivedAt: str, from: str, subject: nstr, size: num, direction: str, recipient: str, status: { type: 'string', enum: ['queued', 'deferred', 'held'] }, attempts: num, nextAttemptAt: ndate, lastReply: nstr },
  ['id', 'recipient', 'status'],
);
const countSchema = obj({ id: str, recipients: num });

export const queueRoutes: RouteModule = (app, ctx) => {
  app.get('/api/v1/queue', {
    config: { permission: 'queue.read' },
    schema: {
      tags: ['queue'],
      summary: 'Recipients waiting for delivery, oldest first',
      querystring: pageQuery({ sender: str, recipient: str, domain: str, status: { type: 'string', enum: ['queued', 'deferred', 'held'] } }),
      response: { 200: pageOf(entrySchema) },
    },
  }, async (req) => listQueue(ctx.db, actorOf(req), req.query as QueueQuery));

  app.post('/api/v1/queue/retry', {
    config: { permission: 'queue.write' },
    schema: { tags: ['queue'], summary: 'Retry every deferred recipient now', response: { 200: obj({ recipients: num }) } },
  }, async (req) => retryQueue(ctx.db, actorOf(req), null));

  app.post('/api/v1/queue/:id/retry', {
    config: { permission: 'queue.write' },
    schema: { tags: ['queue'], summary: "Retry a message's deferred recipients now", params: idParams, response: { 200: obj({ recipients: num }) } },
  }, async (req) => retryQueue(ctx.db, actorOf(req), (req.params as { id: string }).id));

  app.post('/api/v1/queue/:id/hold', {
    config: { permission: 'queue.write' },
    schema: { tags: ['queue'], summary: 'Hold a message: no delivery attempts until released', params: idParams, response: { 200: countSchema } },
  }, async (req) => holdQueued(ctx.db, actorOf(req), (req.params as { id: string }).id));

  app.post('/api/v1/queue/:id/release', {
    config: { permission: 'queue.write' },
    schema: { tags: ['queue'], summary: 'Release a held message: delivered at once', params: idParams, response: { 200: countSchema } },
  }, async (req) => releaseQueued(ctx.db, actorOf(req), (req.params as { id: string }).id));

  app.delete('/api/v1/queue/:id', {
    config: { permission: 'queue.write' },
    schema: { tags: ['queue'], summary: 'Delete a message from the queue (no delivery, no bounce)', params: idParams, response: { 200: countSchema } },
  }, async (req) => deleteQueued(ctx.db, actorOf(req), (req.params as { id: string }).id, ctx.config.storage.spool));
};
