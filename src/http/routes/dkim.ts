// /api/v1/dkim and /api/v1/arc: DKIM keys with the DNS records to publish, and ARC
// sealing. A private key goes in (import) and never comes out: answers show the public
// half only.
import { dnsRecords, generateKey, getArc, importKey, listKeys, removeExpiredKeys, removeKey, rotateKeys, setArc, type RotateInput } from '../../services/dkim-service.ts';
import { DnsResolver } from '../../dns/resolver.ts';
import { ServiceError } from '../../services/service-error.ts';
import { actorOf, type RouteModule } from '../route-kit.ts';
import { listOf, str, strOrNull } from './filter-schemas.ts';

export const dkimKeySchema = {
  type: 'object',
  required: ['id', 'domain', 'selector', 'algorithm', 'bits', 'status', 'dnsName', 'dnsValue', 'zoneLine'],
  properties: {
    id: { type: 'integer' },
    domain: str,
    selector: str,
    algorithm: str,
    bits: { type: 'integer' },
    status: { type: 'string', enum: ['pending', 'active', 'retiring', 'expired'] },
    dnsName: str,
    dnsValue: str,
    zoneLine: str,
    arc: strOrNull,
    createdAt: str,
    activatedAt: strOrNull,
    retiredAt: strOrNull,
    removeAfter: strOrNull,
    dns: { type: 'string', description: 'with ?check=true: published, missing, different or a DNS error' },
  },
} as const;

const arcSchema = { type: 'object', required: ['enabled', 'domain', 'selector'], properties: { enabled: { type: 'boolean' }, domain: strOrNull, selector: strOrNull, warning: str } } as const;
const domainParams = { type: 'object', required: ['domain'], properties: { domain: { type: 'string', minLength: 1, maxLength: 253 } } } as const;
const keyParams = { type: 'object', required: ['domain', 'selector'], properties: { domain: { type: 'string', minLength: 1 }, selector: { type: 'string', minLength: 1 } } } as const;
const tags = ['dkim'];
const dom = (req: { params: unknown }) => (req.params as { domain: string }).domain;

export const dkimRoutes: RouteModule = (app, ctx) => {
  app.get('/api/v1/dkim', {
    config: { permission: 'dkim.read' },
    schema: { tags, summary: 'DKIM keys (a domain administrator sees its domains)', querystring: { type: 'object', properties: { domain: str } }, response: { 200: listOf(dkimKeySchema) } },
  }, async (req) => ({ items: await listKeys(ctx.db, actorOf(req), (req.query as { domain?: string }).domain) }));

  app.post('/api/v1/dkim', {
    config: { permission: 'dkim.write' },
    schema: {
      tags,
      summary: 'Generate a key pair for a domain (signs at once, or pending: after rotate); or import a private key (PEM) with privateKey and selector',
      body: {
        type: 'object',
        required: ['domain'],
        additionalProperties: false,
        properties: {
          domain: { type: 'string', minLength: 1 },
          selector: { type: 'string', minLength: 1 },
          algorithm: { type: 'string', enum: ['rsa', 'ed25519', 'rsa-sha256', 'ed25519-sha256'] },
          bits: { type: 'integer', minimum: 1024, maximum: 4096 },
          pending: { type: 'boolean' },
          privateKey: { type: 'string', minLength: 1, description: 'import this PEM key instead of generating one; it is sealed and never shown again' },
        },
      },
      response: { 201: dkimKeySchema },
    },
  }, async (req, reply) => {
    const b = req.body as { domain: string; selector?: string; algorithm?: string; bits?: number; pending?: boolean; privateKey?: string };
    const actor = actorOf(req);
    if (b.privateKey !== undefined) {
      if (!b.selector) throw new ServiceError('invalid', 'an imported key needs the selector its public key is published under', { selector: 'required' });
      return reply.status(201).send(await importKey(ctx.db, actor, ctx.masterKey(), { domain: b.domain, selector: b.selector, privateKeyPem: b.privateKey, pending: !!b.pending }));
    }
    return reply.status(201).send(await generateKey(ctx.db, actor, ctx.masterKey(), b));
  });

  app.get('/api/v1/dkim/:domain/dns', {
    config: { permission: 'dkim.read' },
    schema: {
      tags,
      summary: 'The DNS TXT records to publish for a domain (and those that can go); check=true looks each up',
      params: domainParams,
      querystring: { type: 'object', properties: { check: { type: 'boolean' } } },
      response: { 200: { type: 'object', required: ['publish', 'unpublish'], properties: { publish: { type: 'array', items: dkimKeySchema }, unpublish: { type: 'array', items: dkimKeySchema } } } },
    },
  }, async (req) => {
    const check = (req.query as { check?: boolean }).check;
    const resolver = check ? new DnsResolver({ ...(ctx.config.dnsServers.length ? { servers: ctx.config.dnsServers } : {}), cacheMaxEntries: 0 }) : null;
    return dnsRecords(ctx.db, actorOf(req), dom(req), resolver ? (name) => resolver.txt(name) : undefined);
  });

  app.post('/api/v1/dkim/:domain/rotate', {
    config: { permission: 'dkim.write' },
    schema: {
      tags,
      summary: 'Replace the active key(s): a pending key or a new one signs, the old one retires (still published) for the overlap',
      params: domainParams,
      body: {
        type: 'object',
        nullable: true,
        additionalProperties: false,
        properties: {
          algorithm: { type: 'string', enum: ['rsa', 'ed25519', 'rsa-sha256', 'ed25519-sha256'] },
          selector: str,
          privateKey: { type: 'string', minLength: 1 },
          bits: { type: 'integer', minimum: 1024, maximum: 4096 },
          prepare: { type: 'boolean' },
          overlapDays: { type: 'number', minimum: 0, maximum: 365 },
        },
      },
      response: { 200: { type: 'object', required: ['added', 'retired'], properties: { added: { type: 'array', items: dkimKeySchema }, retired: { type: 'array', items: dkimKeySchema } } } },
    },
  }, async (req) => {
    const { privateKey, ...rest } = (req.body ?? {}) as RotateInput & { privateKey?: string };
    return rotateKeys(ctx.db, actorOf(req), ctx.masterKey(), dom(req), { ...rest, ...(privateKey ? { privateKeyPem: privateKey } : {}) });
  });

  app.delete('/api/v1/dkim/:domain/expired', {
    config: { permission: 'dkim.write' },
    schema: { tags, summary: 'Remove the retiring keys whose overlap is over', params: domainParams, response: { 200: listOf(dkimKeySchema) } },
  }, async (req) => ({ items: await removeExpiredKeys(ctx.db, actorOf(req), dom(req)) }));

  app.delete('/api/v1/dkim/:domain/:selector', {
    config: { permission: 'dkim.write' },
    schema: {
      tags,
      summary: 'Remove a key (force=true also an active, pending or ARC key)',
      params: keyParams,
      querystring: { type: 'object', properties: { force: { type: 'boolean' } } },
      response: { 200: dkimKeySchema },
    },
  }, async (req) => {
    const p = req.params as { domain: string; selector: string };
    return removeKey(ctx.db, actorOf(req), p.domain, p.selector, { force: !!(req.query as { force?: boolean }).force });
  });

  app.get('/api/v1/arc', {
    config: { permission: 'arc.read' },
    schema: { tags: ['arc'], summary: 'ARC sealing configuration', response: { 200: arcSchema } },
  }, async (req) => getArc(ctx.db, actorOf(req)));

  app.put('/api/v1/arc', {
    config: { permission: 'arc.write' },
    schema: {
      tags: ['arc'],
      summary: 'Seal relayed mail as d=domain s=selector (an RSA key of that domain), or stop sealing',
      body: { type: 'object', required: ['enabled'], additionalProperties: false, properties: { enabled: { type: 'boolean' }, domain: str, selector: str } },
      response: { 200: arcSchema },
    },
  }, async (req) => setArc(ctx.db, actorOf(req), req.body as { enabled: boolean; domain?: string; selector?: string }));
};
