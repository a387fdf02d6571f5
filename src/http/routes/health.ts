// /healthz: the process answers. /readyz: it can do its work — the database answers, the
// spool directory is writable, the SMTP listener is listening. Both public (for load
// balancers and monitoring) and free of detail an attacker could use.
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { pingDatabase } from '../../db/repos/health.ts';
import type { RouteModule } from '../route-kit.ts';

const checkSchema = {
  type: 'object',
  required: ['status', 'checks'],
  properties: {
    status: { type: 'string', enum: ['ok', 'unavailable'] },
    checks: { type: 'object', properties: { database: { type: 'boolean' }, spool: { type: 'boolean' }, smtp: { type: 'boolean' } } },
  },
} as const;

export const healthRoutes: RouteModule = (app, ctx) => {
  app.get('/healthz', {
    config: { public: true },
    schema: { tags: ['health'], summary: 'The process is alive', response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } },
  }, async () => ({ status: 'ok' }));

  app.get('/readyz', {
    config: { public: true },
    schema: { tags: ['health'], summary: 'Database, spool and SMTP listener are ready (503 if not)', response: { 200: checkSchema, 503: checkSchema } },
  }, async (_req, reply) => {
    const checks = {
      database: await pingDatabase(ctx.db).then(() => true, () => false),
      spool: await access(ctx.config.storage.spool, constants.W_OK).then(() => true, () => false),
      smtp: ctx.smtpListening(),
    };
    const ok = checks.database && checks.spool && checks.smtp;
    return reply.status(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', checks });
  });
};
