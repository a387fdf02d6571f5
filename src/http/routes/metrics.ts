// GET /metrics: Prometheus text format of the whole gateway (every worker's series,
// labelled by worker). Needs system.read, so
// Prometheus scrapes with an API token (role admin or auditor):
//   authorization: { type: Bearer, credentials: hms_... }  in its scrape_config.
import type { RouteModule } from '../route-kit.ts';
import { gatewayMetricsText } from '../../ops/metrics/cluster-metrics.ts';

export const metricsRoutes: RouteModule = (app, ctx) => {
  app.get('/metrics', {
    config: { permission: 'system.read' },
    schema: { tags: ['system'], summary: 'Prometheus metrics of every gateway worker (text exposition format)' },
  }, async (_req, reply) => {
    const metrics = ctx.gateway?.metrics;
    if (!metrics) return reply.status(503).type('text/plain').send('metrics are kept by a running gateway\n');
    return reply.type(metrics.registry.contentType).send(await gatewayMetricsText(metrics.registry));
  });
};
