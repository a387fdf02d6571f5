// The HTTPS server: REST API (/api/v1), its OpenAPI description and reference page, the
// admin console (dist/console), /healthz and /readyz. It presents the certificate store's certificates
// by SNI (tls/sni.ts), the bootstrap file's self-signed one until a real one exists. In a cluster every worker listens on the
// same port (node:cluster shares it); sessions, tokens and login throttles live in the
// database, so any worker serves any request.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { installAuthentication } from './authenticate.ts';
import type { HttpContext } from './context.ts';
import { errorBody, installErrorHandlers } from './errors.ts';
import { ROUTE_MODULES } from './routes/index.ts';
import { addSecurityHeaders, DOCS_PREFIX } from './security-headers.ts';
import { SESSION_COOKIE } from '../services/session-service.ts';
import type { Server as TlsServer } from 'node:tls';
import type { TlsCertificates } from '../tls/sni.ts';

/** The console as `npm run build` leaves it (the same path from src/http and dist/http). */
export const CONSOLE_DIR = resolve(import.meta.dirname, '../..', 'dist/console');

const NOT_BUILT_PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Hermes SEG</title></head><body>
<h1>Hermes SEG</h1><p>The admin console is not built. Run <code>npm run build</code> in the Hermes directory, then reload this page.</p>
<p>The REST API is at <a href="/api/docs">/api/docs</a>.</p></body></html>`;

export interface HttpServerOptions {
  ctx: HttpContext;
  /** A fixed certificate (tests), used when `certificates` is absent. */
  tls?: { key: Buffer; cert: Buffer };
  /** The certificate store's certificates, chosen by SNI (tls/sni.ts). */
  certificates?: TlsCertificates;
  /** Where the built console is (default dist/console). */
  consoleDir?: string;
}

export async function buildHttpServer(o: HttpServerOptions): Promise<FastifyInstance> {
  const { ctx } = o;
  const app = Fastify({
    https: o.certificates ? o.certificates.serverOptions() : { key: o.tls!.key, cert: o.tls!.cert },
    loggerInstance: ctx.log.child({ component: 'http' }),
    // The client address is the socket's: no proxy headers are believed.
    trustProxy: false,
    bodyLimit: 2 * 1024 * 1024,
  }) as unknown as FastifyInstance;
  // Clients that send no SNI get the default certificate: keep it current too.
  o.certificates?.attachTlsServer(app.server as unknown as TlsServer);
  addSecurityHeaders(app);
  installErrorHandlers(app);
  await app.register(cookie);
  installAuthentication(app, ctx);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Hermes SEG REST API', version: '1', description: 'Everything the CLI does, as resources. Authenticate with an API token (Authorization: Bearer hms_...) or the console session cookie plus X-CSRF-Token.' },
      components: {
        securitySchemes: {
          token: { type: 'http', scheme: 'bearer', description: 'API token hms_<id>_<secret> (POST /api/v1/tokens)' },
          session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE },
        },
      },
      security: [{ token: [] }, { session: [] }],
    },
  });
  // Plugin routes (reference page, console files) are public and not part of the API.
  await app.register(async (scope) => {
    scope.addHook('onRoute', (route) => {
      route.config = { ...route.config, public: true };
      route.schema = { ...route.schema, hide: true };
    });
    await scope.register(swaggerUi, { routePrefix: DOCS_PREFIX });
    const dir = o.consoleDir ?? CONSOLE_DIR;
    if (existsSync(join(dir, 'index.html'))) await scope.register(fastifyStatic, { root: dir, prefix: '/', wildcard: false, index: false });
  });
  app.get('/api/v1/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());
  for (const m of ROUTE_MODULES) await app.register(async (scope) => m.routes(scope, ctx));
  app.setNotFoundHandler(async (request, reply) => {
    const path = request.url.split('?', 1)[0]!;
    if (path.startsWith('/api/') || path === '/api' || (request.method !== 'GET' && request.method !== 'HEAD')) {
      return reply.status(404).send(errorBody('not_found', `no such resource: ${request.method} ${path} (the API is described at /api/v1/openapi.json)`));
    }
    // The console routes in the browser: any other path is the app's page.
    const index = join(o.consoleDir ?? CONSOLE_DIR, 'index.html');
    const html = await readFile(index, 'utf8').catch(() => null);
    return reply.status(html === null ? 503 : 200).type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(html ?? NOT_BUILT_PAGE);
  });
  return app;
}

export interface RunningHttpServer {
  app: FastifyInstance;
  port: number;
  close(): Promise<void>;
}

export async function startHttpServer(o: HttpServerOptions & { host: string; port: number }): Promise<RunningHttpServer> {
  const app = await buildHttpServer(o);
  await app.listen({ host: o.host, port: o.port });
  const addr = app.server.address();
  return { app, port: typeof addr === 'object' && addr ? addr.port : o.port, close: () => app.close() };
}
