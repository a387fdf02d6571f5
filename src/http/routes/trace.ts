// /api/v1/trace: find messages, and read what happened to one of them.
import { getTrace, searchTrace, type TraceQuery } from '../../services/trace-service.ts';
import { actorOf, idParams, pageOf, pageQuery, type RouteModule } from '../route-kit.ts';
import { anyObject, nstr, num, obj, str } from './schemas.ts';

const recipientSchema = obj({ address: str, status: str, attempts: num, route: str, lastReply: nstr });
const summarySchema = obj(
  { id: str, receivedAt: str, direction: str, from: str, subject: nstr, messageId: nstr, clientIp: nstr, size: num, state: str, verdict: str, recipients: { type: 'array', items: recipientSchema } },
  ['id', 'receivedAt', 'verdict'],
);
const detailSchema = obj({
  ...summarySchema.properties,
  clientHelo: nstr,
  clientPtr: nstr,
  tls: nstr,
  doneAt: nstr,
  parentId: nstr,
  parentLabel: nstr,
  quarantineIds: { type: 'array', items: str },
  children: { type: 'array', items: anyObject },
  events: { type: 'array', items: obj({ id: num, at: str, type: str, recipient: nstr, detail: {} }) },
});

export const traceRoutes: RouteModule = (app, ctx) => {
  app.get('/api/v1/trace', {
    config: { permission: 'trace.read' },
    schema: {
      tags: ['trace'],
      summary: 'Search messages (newest first) by address, subject, Message-ID, queue ID, client, time and verdict',
      querystring: pageQuery({ address: str, sender: str, recipient: str, subject: str, messageId: str, queueId: str, clientIp: str, from: str, to: str, verdict: str }),
      response: { 200: pageOf(summarySchema) },
    },
  }, async (req) => searchTrace(ctx.db, actorOf(req), req.query as TraceQuery));

  app.get('/api/v1/trace/:id', {
    config: { permission: 'trace.read' },
    schema: { tags: ['trace'], summary: 'A message and its event timeline', params: idParams, response: { 200: detailSchema } },
  }, async (req) => getTrace(ctx.db, actorOf(req), (req.params as { id: string }).id));
};
