// /api/v1/dashboard: traffic by verdict, top addresses, queue and quarantine, nudges.
import { dashboardStats } from '../../services/dashboard-service.ts';
import { actorOf, type RouteModule } from '../route-kit.ts';
import { anyObject, num, obj, str } from './schemas.ts';

export const dashboardRoutes: RouteModule = (app, ctx) => {
  app.get('/api/v1/dashboard', {
    config: { permission: 'dashboard.read' },
    schema: {
      tags: ['dashboard'],
      summary: 'What the gateway did lately and what to set up next',
      querystring: { type: 'object', properties: { hours: { type: 'integer', minimum: 1, maximum: 720 } } },
      response: {
        200: obj({
          from: str,
          to: str,
          bucketMinutes: num,
          traffic: { type: 'array', items: obj({ start: str, counts: { type: 'object', additionalProperties: { type: 'number' } } }) },
          topSenders: { type: 'array', items: obj({ address: str, messages: num }) },
          topRecipients: { type: 'array', items: obj({ address: str, messages: num }) },
          queue: anyObject,
          quarantine: { ...anyObject, nullable: true },
          nudges: { type: 'array', items: obj({ code: str, message: str }) },
        }),
      },
    },
  }, async (req) => {
    const hours = (req.query as { hours?: number }).hours;
    return dashboardStats(ctx.db, actorOf(req), { hostname: ctx.config.hostname, certFile: ctx.config.tls.cert, ...(hours ? { hours } : {}) });
  });
};
