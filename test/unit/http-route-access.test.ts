// The one permission mechanism refuses, at start, a route that does not say who may call it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RouteOptions } from 'fastify';
import { checkRoutesDeclareAccess } from '../../src/http/authenticate.ts';

const route = (o: Partial<RouteOptions>): RouteOptions => ({ method: 'GET', url: '/api/v1/x', handler: async () => ({}), schema: {}, ...o }) as RouteOptions;

test('a route with neither permission nor public/signedIn stops the server from starting', () => {
  assert.throws(() => checkRoutesDeclareAccess([route({ config: {} as RouteOptions['config'] })]), /GET \/api\/v1\/x declares no access/);
  assert.throws(() => checkRoutesDeclareAccess([route({ config: { permission: 'domains.read' } as RouteOptions['config'], schema: undefined })]), /has no schema/);
  checkRoutesDeclareAccess([route({ config: { permission: 'domains.read' } as RouteOptions['config'] }), route({ url: '/healthz', config: { public: true } as RouteOptions['config'] })]);
});
