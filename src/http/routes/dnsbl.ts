// /api/v1/dnsbl: the blocklists in use, changing them, and asking them now.
import { checkDnsbl, getDnsbl, updateDnsbl, type DnsblConfig } from '../../services/dnsbl-service.ts';
import { actorOf, type RouteModule } from '../route-kit.ts';
import { anyObject, str, strings } from './filter-schemas.ts';

const zone = { type: 'object', required: ['zone'], additionalProperties: true, properties: { zone: str, symbol: str, weight: { type: 'number' }, codes: strings, mask: { type: 'integer' } } } as const;
const fields = { enabled: { type: 'boolean' }, budgetMs: { type: 'integer' }, maxUriDomains: { type: 'integer' }, ipZones: { type: 'array', items: zone }, uriZones: { type: 'array', items: zone }, rejectZones: strings } as const;
const configSchema = { type: 'object', required: Object.keys(fields), properties: fields } as const;
const tags = ['dnsbl'];

export const dnsblRoutes: RouteModule = (app, ctx) => {
  app.get('/api/v1/dnsbl', {
    config: { permission: 'dnsbl.read' },
    schema: { tags, summary: 'DNS blocklists: client-IP and linked-domain zones, weights, which refuse clients in the session', response: { 200: configSchema } },
  }, async (req) => getDnsbl(ctx.db, actorOf(req)));

  app.patch('/api/v1/dnsbl', {
    config: { permission: 'dnsbl.write' },
    schema: { tags, summary: 'Change blocklist settings (all at once or none)', body: { type: 'object', additionalProperties: false, minProperties: 1, properties: fields }, response: { 200: configSchema } },
  }, async (req) => updateDnsbl(ctx.db, actorOf(req), req.body as Partial<DnsblConfig>));

  app.get('/api/v1/dnsbl/check', {
    config: { permission: 'dnsbl.read' },
    schema: {
      tags,
      summary: 'Look an IP address (client zones) or a domain / URL host (linked-domain zones) up now',
      querystring: { type: 'object', required: ['target'], properties: { target: { type: 'string', minLength: 1 } } },
      response: { 200: { type: 'object', properties: { query: str, kind: str, listed: { type: 'boolean' }, queries: { type: 'integer' }, hits: { type: 'array', items: anyObject }, problems: { type: 'array', items: anyObject } } } },
    },
  }, async (req) => checkDnsbl(ctx.db, actorOf(req), (req.query as { target: string }).target, { dnsServers: ctx.config.dnsServers }));
};
