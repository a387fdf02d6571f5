// Security headers on every response, errors included. The CSP allows only our own
// scripts, styles and images (plus data: images, for the 2FA QR code); the API reference
// page (/api/docs, swagger-ui) also needs inline styles, so only that path gets them.
import type { FastifyInstance } from 'fastify';

export const CONTENT_SECURITY_POLICY = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
export const DOCS_CONTENT_SECURITY_POLICY = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
export const DOCS_PREFIX = '/api/docs';

export function addSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?', 1)[0]!;
    reply.header('strict-transport-security', 'max-age=31536000; includeSubDomains');
    reply.header('content-security-policy', path === DOCS_PREFIX || path.startsWith(`${DOCS_PREFIX}/`) ? DOCS_CONTENT_SECURITY_POLICY : CONTENT_SECURITY_POLICY);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('cross-origin-opener-policy', 'same-origin');
    if (path.startsWith('/api/')) reply.header('cache-control', 'no-store');
  });
}
