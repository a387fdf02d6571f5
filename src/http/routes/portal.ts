// The user portal (/portal) and its one-click links (/portal/link/<token>): server-
// rendered pages with their own session cookie and CSRF-bound forms, apart from the
// admin console. The routes are "public" to the API's authentication hook: the portal
// checks its own session (src/http/portal/portal-context.ts).
import { linkRoutes } from '../portal/link-routes.ts';
import { portalRoutes as portalPages } from '../portal/portal-routes.ts';
import { PORTAL_CSS, PORTAL_CSS_PATH } from '../portal/html.ts';
import type { RouteModule } from '../route-kit.ts';

export const portalRoutes: RouteModule = async (app, ctx) => {
  // Plain HTML forms post application/x-www-form-urlencoded (in this scope only).
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  app.get(PORTAL_CSS_PATH, { config: { public: true } }, async (_request, reply) => reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(PORTAL_CSS));
  app.get('/portal', { config: { public: true } }, async (_request, reply) => reply.status(301).header('location', '/portal/').send());
  await linkRoutes(app, ctx);
  await portalPages(app, ctx);
};
