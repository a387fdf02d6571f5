// The one permission mechanism. Every route declares `config.permission`, `signedIn` or
// `public` (a route without is refused when the server starts); this hook runs before
// body parsing and validation, so an anonymous caller learns nothing but 401:
//   - an API token (Authorization: Bearer hms_...) or the console session cookie;
//   - with a cookie, every state change needs the session's CSRF token (X-CSRF-Token);
//   - a user who must change the password, or enrol 2FA their role requires, may only
//     call the routes marked duringSetup until they have;
//   - then can(actor, permission).
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import { normaliseIp } from '../smtp/cidr.ts';
import { assertCan } from '../services/actor.ts';
import { resolveSession, SESSION_COOKIE } from '../services/session-service.ts';
import { authenticateToken } from '../services/token-service.ts';
import { sameSecret } from '../services/secret-tokens.ts';
import { ServiceError } from '../services/service-error.ts';
import type { HttpContext } from './context.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function clientAddress(request: FastifyRequest): string {
  return normaliseIp(request.socket.remoteAddress ?? request.ip);
}

/**
 * Refuses, at start, a route that says neither who may call it nor that anyone may, and
 * an API route without a schema. Checked once all routes are in (onReady): plugins such
 * as the static file server get `public` from their own scope's onRoute hook, which runs
 * after this one.
 */
export function checkRoutesDeclareAccess(routes: readonly RouteOptions[]): void {
  for (const route of routes) {
    const c = route.config ?? {};
    const name = `${String(route.method)} ${route.url}`;
    if (!c.public && !c.permission && !c.signedIn) throw new Error(`route ${name} declares no access: add config.permission (or config.public / config.signedIn)`);
    if (route.url.startsWith('/api/v1/') && !route.schema) throw new Error(`route ${name} has no schema: every API route is described in OpenAPI`);
  }
}

export function installAuthentication(app: FastifyInstance, ctx: HttpContext): void {
  app.decorateRequest('actor', null);
  app.decorateRequest('consoleSession', null);
  const routes: RouteOptions[] = [];
  app.addHook('onRoute', (route) => void routes.push(route));
  app.addHook('onReady', async () => checkRoutesDeclareAccess(routes));
  app.addHook('onRequest', async (request) => {
    const cfg = request.routeOptions.config;
    // No route matched: the not-found handler answers (it reveals nothing).
    if (!request.routeOptions.url || cfg.public) return;
    const address = clientAddress(request);
    const auth = request.headers.authorization;
    if (auth !== undefined) {
      const m = /^Bearer\s+(\S+)$/i.exec(auth);
      if (!m) throw new ServiceError('unauthenticated', 'the Authorization header must be "Bearer <API token>"');
      request.actor = await authenticateToken(ctx.db, m[1]!, address);
    } else {
      const cookie = request.cookies[SESSION_COOKIE];
      const settings = await ctx.settings();
      const session = cookie ? await resolveSession(ctx.db, cookie, address, settings) : null;
      if (!session) throw new ServiceError('unauthenticated', cookie ? 'your session has ended: sign in again' : 'sign in, or send an API token as "Authorization: Bearer hms_..."');
      if (!SAFE_METHODS.has(request.method)) {
        const sent = request.headers['x-csrf-token'];
        if (typeof sent !== 'string' || !sameSecret(sent, session.csrfToken)) {
          throw new ServiceError('forbidden', 'missing or wrong X-CSRF-Token header: take the token from GET /api/v1/session', { csrf: 'invalid' });
        }
      }
      request.actor = session.actor;
      request.consoleSession = session;
      if (!cfg.duringSetup) {
        if (session.user.must_change_password === 1) {
          throw new ServiceError('forbidden', 'change your password first (POST /api/v1/me/password)', { reason: 'password_change_required' });
        }
        if (session.user.totp_enabled === 0 && settings['console.require2faRoles'].includes(session.user.role)) {
          throw new ServiceError('forbidden', 'your role requires two-factor authentication: enrol first (POST /api/v1/me/totp)', { reason: 'totp_enrolment_required' });
        }
      }
    }
    if (cfg.permission) assertCan(request.actor, cfg.permission);
  });
}
