// /api/v1/malware/status and /api/v1/external/status: are clamd, spamd and Rspamd answering.
import { externalStatus, malwareStatus } from '../../services/engines-service.ts';
import { actorOf, type RouteModule } from '../route-kit.ts';
import { listOf, str } from './filter-schemas.ts';

const engineSchema = {
  type: 'object',
  required: ['engine', 'configured', 'address', 'answering', 'onError', 'timeoutMs'],
  properties: { engine: str, configured: { type: 'boolean' }, address: { type: 'string', nullable: true }, answering: { type: 'boolean' }, version: str, error: str, onError: str, timeoutMs: { type: 'integer' }, weight: { type: 'number' } },
} as const;

export const engineRoutes: RouteModule = (app, ctx) => {
  app.get('/api/v1/malware/status', {
    config: { permission: 'malware.read' },
    schema: { tags: ['malware'], summary: 'Is the configured clamd answering (PING, VERSION)', response: { 200: engineSchema } },
  }, async (req) => malwareStatus(ctx.db, actorOf(req)));

  app.get('/api/v1/external/status', {
    config: { permission: 'malware.read' },
    schema: { tags: ['malware'], summary: 'Are the configured spamd and Rspamd answering', response: { 200: listOf(engineSchema) } },
  }, async (req) => ({ items: await externalStatus(ctx.db, actorOf(req)) }));
};
