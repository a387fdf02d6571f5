// /api/v1/tokens: API tokens for scripts. The token itself is in the create answer only.
import { ROLES } from '../../services/actor.ts';
import { createToken, listTokens, revokeToken, type NewToken } from '../../services/token-service.ts';
import { actorOf, idParams, pageOf, pageQuery, type RouteModule } from '../route-kit.ts';

export const tokenSchema = {
  type: 'object',
  required: ['id', 'name', 'role', 'createdAt'],
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    role: { type: 'string', enum: [...ROLES] },
    domains: { type: 'array', items: { type: 'string' }, nullable: true },
    expiresAt: { type: 'string', format: 'date-time', nullable: true },
    allowedCidrs: { type: 'array', items: { type: 'string' }, nullable: true },
    createdBy: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
    lastUsedAt: { type: 'string', format: 'date-time', nullable: true },
    lastUsedAddress: { type: 'string', nullable: true },
    revokedAt: { type: 'string', format: 'date-time', nullable: true },
  },
} as const;

export const tokenRoutes: RouteModule = (app, ctx) => {
  app.get('/api/v1/tokens', {
    config: { permission: 'tokens.read' },
    schema: {
      tags: ['tokens'],
      summary: 'List API tokens (never their secrets)',
      querystring: pageQuery({ includeRevoked: { type: 'boolean' } }),
      response: { 200: pageOf(tokenSchema) },
    },
  }, async (req) => listTokens(ctx.db, actorOf(req), req.query as { cursor?: string; limit?: number; includeRevoked?: boolean }));

  app.post('/api/v1/tokens', {
    config: { permission: 'tokens.write' },
    schema: {
      tags: ['tokens'],
      summary: 'Create an API token; the answer holds the token, shown this once',
      body: {
        type: 'object',
        required: ['name', 'role'],
        additionalProperties: false,
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 100 },
          role: { type: 'string', enum: [...ROLES] },
          domains: { type: 'array', items: { type: 'string' }, nullable: true },
          expiresAt: { type: 'string', format: 'date-time', nullable: true },
          allowedCidrs: { type: 'array', items: { type: 'string' }, nullable: true },
        },
      },
      response: { 201: { type: 'object', required: ['token', 'info'], properties: { token: { type: 'string' }, info: tokenSchema } } },
    },
  }, async (req, reply) => reply.status(201).send(await createToken(ctx.db, actorOf(req), req.body as NewToken)));

  app.delete('/api/v1/tokens/:id', {
    config: { permission: 'tokens.write' },
    schema: { tags: ['tokens'], summary: 'Revoke an API token (it stops working at once)', params: idParams, response: { 200: tokenSchema } },
  }, async (req) => revokeToken(ctx.db, actorOf(req), (req.params as { id: string }).id));
};
