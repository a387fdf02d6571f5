// How to write a REST route module (src/http/routes/<resource>.ts):
//
//   export const domainRoutes: RouteModule = async (app, ctx) => {
//     app.get('/api/v1/domains', {
//       config: { permission: 'domains.read' },            // or { public: true }
//       schema: { tags: ['domains'], summary: 'List relay domains', querystring: pageQuery(), response: { 200: pageOf(domainSchema) } },
//     }, async (req) => listDomains(ctx.db, actorOf(req), req.query as ...));
//   };
//
// then add it to ROUTE_MODULES in routes/index.ts. Every route declares either the
// permission it needs (checked by one hook before the handler runs, see authenticate.ts)
// or that it is public; a route with neither stops the server from starting. Throw
// ServiceError from services: errors.ts turns it into status + JSON.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Actor, Permission } from '../services/actor.ts';
import type { ActiveSession } from '../services/session-service.ts';
import { ServiceError } from '../services/service-error.ts';
import type { HttpContext } from './context.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What the caller's role must allow (src/services/actor.ts ROLE_PERMISSIONS). */
    permission?: Permission;
    /** Reachable without a session or token: health, login, console assets. */
    public?: boolean;
    /** Any signed-in user or token, whatever the role (own session, own password, own 2FA). */
    signedIn?: boolean;
    /** Still allowed while the user must first change the password or enrol 2FA. */
    duringSetup?: boolean;
  }
  interface FastifyRequest {
    /** Who is asking; null only on public routes. */
    actor: Actor | null;
    /** The console session, when the request came with one (not with a token). */
    consoleSession: ActiveSession | null;
  }
}

export type RouteModule = (app: FastifyInstance, ctx: HttpContext) => Promise<void> | void;

/** The authenticated caller (every non-public route has one). */
export function actorOf(request: FastifyRequest): Actor {
  if (!request.actor) throw new ServiceError('unauthenticated', 'sign in, or send an API token as "Authorization: Bearer hms_..."');
  return request.actor;
}

// ---- Schema pieces shared by route modules (JSON Schema, published in OpenAPI).

export const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, details: { type: 'object', additionalProperties: { type: 'string' } } },
    },
  },
} as const;

/** `{ items: [...], nextCursor }` of a cursor-paginated list. */
export function pageOf(item: object) {
  return {
    type: 'object',
    required: ['items', 'nextCursor'],
    properties: { items: { type: 'array', items: item }, nextCursor: { type: 'string', nullable: true } },
  } as const;
}

/** ?limit=&cursor= plus the list's own filters. */
export function pageQuery(filters: Record<string, object> = {}) {
  return {
    type: 'object',
    properties: { limit: { type: 'integer', minimum: 1, maximum: 500 }, cursor: { type: 'string' }, ...filters },
  } as const;
}

export const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1 } } } as const;

export const okSchema = { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' } } } as const;
