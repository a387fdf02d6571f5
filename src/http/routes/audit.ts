// /api/v1/audit: who changed what, when, from where; filters, cursor pages, CSV/JSON export.
import { exportAuditCsv, listAudit, type AuditQuery } from '../../services/audit-service.ts';
import { ServiceError } from '../../services/service-error.ts';
import { actorOf, pageOf, pageQuery, type RouteModule } from '../route-kit.ts';

const entrySchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    at: { type: 'string', format: 'date-time' },
    actor: { type: 'object', properties: { kind: { type: 'string' }, id: { type: 'string' }, name: { type: 'string' } } },
    address: { type: 'string', nullable: true },
    action: { type: 'string' },
    target: { type: 'object', properties: { type: { type: 'string' }, id: { type: 'string' } } },
    domain: { type: 'string', nullable: true },
    before: {},
    after: {},
  },
} as const;

interface AuditParams {
  cursor?: string;
  limit?: number;
  actor?: string;
  action?: string;
  targetType?: string;
  targetId?: string;
  from?: string;
  to?: string;
  format?: 'json' | 'csv';
}

function toQuery(q: AuditParams): AuditQuery {
  const date = (v: string | undefined, field: string) => {
    if (v === undefined) return undefined;
    const d = new Date(v);
    if (Number.isNaN(d.getTime())) throw new ServiceError('invalid', `${field} must be an ISO date and time`, { [field]: 'not a date' });
    return d;
  };
  return { cursor: q.cursor, limit: q.limit, actor: q.actor, action: q.action, targetType: q.targetType, targetId: q.targetId, from: date(q.from, 'from'), to: date(q.to, 'to') };
}

export const auditRoutes: RouteModule = (app, ctx) => {
  app.get('/api/v1/audit', {
    config: { permission: 'audit.read' },
    schema: {
      tags: ['audit'],
      summary: 'The audit log, newest first; ?format=csv exports every matching entry as CSV',
      querystring: pageQuery({
        actor: { type: 'string' },
        action: { type: 'string' },
        targetType: { type: 'string' },
        targetId: { type: 'string' },
        from: { type: 'string', format: 'date-time' },
        to: { type: 'string', format: 'date-time' },
        format: { type: 'string', enum: ['json', 'csv'] },
      }),
      response: { 200: pageOf(entrySchema) },
    },
  }, async (req, reply) => {
    const q = req.query as AuditParams;
    if (q.format === 'csv') {
      const { cursor: _c, limit: _l, ...rest } = toQuery(q);
      const csv = await exportAuditCsv(ctx.db, actorOf(req), rest);
      // Sent as a string, past the JSON response schema.
      return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="hermes-audit.csv"').serializer((s: unknown) => s as string).send(csv);
    }
    return listAudit(ctx.db, actorOf(req), toQuery(q));
  });
};
