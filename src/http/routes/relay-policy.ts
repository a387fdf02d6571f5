// /api/v1/domains, /recipients, /networks, /smarthost: what the gateway accepts mail for,
// who may relay through it, and where outbound mail goes.
import { getDomain, listDomains, removeDomain, saveDomain, type RelayDomainInput } from '../../services/domains-service.ts';
import { addRecipient, listRecipients, removeRecipient } from '../../services/recipients-service.ts';
import { addNetwork, listNetworks, removeNetwork } from '../../services/networks-service.ts';
import { clearSmarthost, getSmarthost, setSmarthost } from '../../services/smarthost-service.ts';
import { forgetMtaStsPolicy, listMtaStsPolicies, listTlsPolicies, removeTlsPolicy, setTlsPolicy } from '../../services/tls-policy-service.ts';
import { actorOf, okSchema, pageOf, pageQuery, type RouteModule } from '../route-kit.ts';
import { bool, ndate, nstr, obj, paramOf, str } from './schemas.ts';

const domainSchema = obj({ domain: str, nextHop: nstr, requireTls: bool, recipientMode: { type: 'string', enum: ['any', 'specified'] }, createdAt: ndate }, ['domain']);
const domainBody = {
  type: 'object',
  additionalProperties: false,
  properties: { nextHop: nstr, requireTls: bool, recipientMode: { type: 'string', enum: ['any', 'specified'] } },
} as const;
const recipientSchema = obj({ pattern: str, domain: str, createdAt: ndate }, ['pattern']);
const networkSchema = obj({ cidr: str, description: nstr, createdAt: ndate }, ['cidr']);
const smarthostSchema = obj({ host: nstr, user: nstr, tls: { type: ['string', 'null'], enum: ['starttls', 'implicit', null] } });

type DomainParams = { domain: string };

export const relayPolicyRoutes: RouteModule = (app, ctx) => {
  app.get('/api/v1/domains', {
    config: { permission: 'domains.read' },
    schema: { tags: ['domains'], summary: 'List relay domains', querystring: pageQuery(), response: { 200: pageOf(domainSchema) } },
  }, async (req) => listDomains(ctx.db, actorOf(req), req.query as { cursor?: string; limit?: number }));

  app.post('/api/v1/domains', {
    config: { permission: 'domains.write' },
    schema: {
      tags: ['domains'],
      summary: 'Add a relay domain',
      body: { ...domainBody, required: ['domain'], properties: { domain: str, ...domainBody.properties } },
      response: { 201: domainSchema },
    },
  }, async (req, reply) => reply.status(201).send(await saveDomain(ctx.db, actorOf(req), req.body as RelayDomainInput, 'create')));

  app.get('/api/v1/domains/:domain', {
    config: { permission: 'domains.read' },
    schema: { tags: ['domains'], summary: 'One relay domain', params: paramOf('domain'), response: { 200: domainSchema } },
  }, async (req) => getDomain(ctx.db, actorOf(req), (req.params as DomainParams).domain));

  app.patch('/api/v1/domains/:domain', {
    config: { permission: 'domains.write' },
    schema: { tags: ['domains'], summary: 'Change a relay domain', params: paramOf('domain'), body: domainBody, response: { 200: domainSchema } },
  }, async (req) => saveDomain(ctx.db, actorOf(req), { ...(req.body as Omit<RelayDomainInput, 'domain'>), domain: (req.params as DomainParams).domain }, 'update'));

  app.delete('/api/v1/domains/:domain', {
    config: { permission: 'domains.write' },
    schema: { tags: ['domains'], summary: 'Stop accepting mail for a domain', params: paramOf('domain'), response: { 200: okSchema } },
  }, async (req) => {
    await removeDomain(ctx.db, actorOf(req), (req.params as DomainParams).domain);
    return { ok: true };
  });

  app.get('/api/v1/recipients', {
    config: { permission: 'recipients.read' },
    schema: { tags: ['recipients'], summary: 'Valid addresses on domains that accept listed recipients only', querystring: pageQuery({ domain: str }), response: { 200: pageOf(recipientSchema) } },
  }, async (req) => listRecipients(ctx.db, actorOf(req), req.query as { domain?: string; cursor?: string; limit?: number }));

  app.post('/api/v1/recipients', {
    config: { permission: 'recipients.write' },
    schema: { tags: ['recipients'], summary: 'Add a valid address (user@domain or *@domain)', body: { type: 'object', additionalProperties: false, required: ['pattern'], properties: { pattern: str } }, response: { 201: recipientSchema } },
  }, async (req, reply) => reply.status(201).send(await addRecipient(ctx.db, actorOf(req), (req.body as { pattern: string }).pattern)));

  app.delete('/api/v1/recipients/:pattern', {
    config: { permission: 'recipients.write' },
    schema: { tags: ['recipients'], summary: 'Remove a valid address', params: paramOf('pattern'), response: { 200: okSchema } },
  }, async (req) => {
    await removeRecipient(ctx.db, actorOf(req), (req.params as { pattern: string }).pattern);
    return { ok: true };
  });

  app.get('/api/v1/networks', {
    config: { permission: 'networks.read' },
    schema: { tags: ['networks'], summary: 'Client networks allowed to relay to any destination', querystring: pageQuery(), response: { 200: pageOf(networkSchema) } },
  }, async (req) => listNetworks(ctx.db, actorOf(req), req.query as { cursor?: string; limit?: number }));

  app.post('/api/v1/networks', {
    config: { permission: 'networks.write' },
    schema: { tags: ['networks'], summary: 'Add a relay network (CIDR)', body: { type: 'object', additionalProperties: false, required: ['cidr'], properties: { cidr: str, description: nstr } }, response: { 201: networkSchema } },
  }, async (req, reply) => reply.status(201).send(await addNetwork(ctx.db, actorOf(req), req.body as { cidr: string; description?: string | null })));

  app.delete('/api/v1/networks/:cidr', {
    config: { permission: 'networks.write' },
    schema: { tags: ['networks'], summary: 'Remove a relay network (the CIDR URL-encoded: 10.0.0.0%2F24)', params: paramOf('cidr'), response: { 200: okSchema } },
  }, async (req) => {
    await removeNetwork(ctx.db, actorOf(req), (req.params as { cidr: string }).cidr);
    return { ok: true };
  });

  app.get('/api/v1/smarthost', {
    config: { permission: 'smarthost.read' },
    schema: { tags: ['smarthost'], summary: 'Where outbound mail goes (null: MX lookups)', response: { 200: smarthostSchema } },
  }, async (req) => getSmarthost(ctx.db, actorOf(req)));

  app.put('/api/v1/smarthost', {
    config: { permission: 'smarthost.write' },
    schema: {
      tags: ['smarthost'],
      summary: 'Send outbound mail through host[:port], optionally with a login (user and password, used after STARTTLS or over implicit TLS; the password is stored sealed and never returned). "login": null removes a stored login; no "login" keeps it.',
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['host'],
        properties: {
          host: str,
          login: {
            type: ['object', 'null'],
            additionalProperties: false,
            required: ['user', 'password'],
            properties: { user: str, password: str, tls: { type: 'string', enum: ['starttls', 'implicit'] } },
          },
        },
      },
      response: { 200: smarthostSchema },
    },
  }, async (req) => {
    const b = req.body as { host: string; login?: { user: string; password: string; tls?: 'starttls' | 'implicit' } | null };
    return setSmarthost(ctx.db, actorOf(req), b.host, b.login, ctx.masterKey);
  });

  app.delete('/api/v1/smarthost', {
    config: { permission: 'smarthost.write' },
    schema: { tags: ['smarthost'], summary: 'Deliver outbound mail by MX lookups again', response: { 200: smarthostSchema } },
  }, async (req) => clearSmarthost(ctx.db, actorOf(req)));

  // Outbound transport security (docs/transport-security.md).
  const tlsPolicySchema = obj({ destination: str, level: { type: 'string', enum: ['none', 'may', 'encrypt', 'verify', 'dane'] } }, ['destination', 'level']);
  app.get('/api/v1/tls-policies', {
    config: { permission: 'settings.read' },
    schema: { tags: ['transport'], summary: 'Outbound TLS level per destination (domain, ".domain", next hop)', response: { 200: { type: 'array', items: tlsPolicySchema } } },
  }, async (req) => listTlsPolicies(ctx.db, actorOf(req)));
  app.put('/api/v1/tls-policies/:destination', {
    config: { permission: 'settings.write' },
    schema: { tags: ['transport'], summary: 'Set the TLS level for a destination', params: paramOf('destination'), body: { type: 'object', additionalProperties: false, required: ['level'], properties: { level: str } }, response: { 200: tlsPolicySchema } },
  }, async (req) => setTlsPolicy(ctx.db, actorOf(req), (req.params as { destination: string }).destination, (req.body as { level: string }).level));
  app.delete('/api/v1/tls-policies/:destination', {
    config: { permission: 'settings.write' },
    schema: { tags: ['transport'], summary: 'Back to the default level for a destination', params: paramOf('destination'), response: { 200: okSchema } },
  }, async (req) => {
    await removeTlsPolicy(ctx.db, actorOf(req), (req.params as { destination: string }).destination);
    return { ok: true };
  });
  const stsSchema = obj({ domain: str, id: str, mode: str, mx: { type: 'array', items: str }, maxAge: { type: 'integer' }, fetchedAt: ndate, expiresAt: ndate }, ['domain']);
  app.get('/api/v1/mta-sts', {
    config: { permission: 'settings.read' },
    schema: { tags: ['transport'], summary: 'MTA-STS policies cached from receiving domains', response: { 200: { type: 'array', items: stsSchema } } },
  }, async (req) => listMtaStsPolicies(ctx.db, actorOf(req)));
  app.delete('/api/v1/mta-sts/:domain', {
    config: { permission: 'settings.write' },
    schema: { tags: ['transport'], summary: 'Forget a cached MTA-STS policy (fetched again at the next delivery)', params: paramOf('domain'), response: { 200: okSchema } },
  }, async (req) => {
    await forgetMtaStsPolicy(ctx.db, actorOf(req), (req.params as { domain: string }).domain);
    return { ok: true };
  });
};
