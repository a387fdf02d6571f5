// /api/v1/encryption/keys: the encryption key store (S/MIME certificates, OpenPGP keys,
// trust anchors). Key files go in base64; private keys are sealed at once and never
// come out: answers and exports carry public halves only.
import { exportKey, generateKey, importKeys, listKeys, revokeKey } from '../../services/encryption-key-service.ts';
import { ServiceError } from '../../services/service-error.ts';
import { actorOf, type RouteModule } from '../route-kit.ts';
import { listOf, str, strOrNull } from './filter-schemas.ts';

export const encryptionKeySchema = {
  type: 'object',
  required: ['id', 'address', 'kind', 'fingerprint', 'source', 'hasPrivateKey', 'isCa', 'status', 'createdAt'],
  properties: {
    id: { type: 'integer' },
    address: { type: 'string', description: "'' for a trust anchor" },
    kind: { type: 'string', enum: ['smime', 'pgp'] },
    fingerprint: str,
    subject: strOrNull,
    issuer: strOrNull,
    source: { type: 'string', enum: ['imported', 'harvested', 'generated', 'internal-ca'] },
    hasPrivateKey: { type: 'boolean' },
    isCa: { type: 'boolean' },
    notBefore: strOrNull,
    notAfter: strOrNull,
    status: { type: 'string', enum: ['valid', 'expiring', 'expired', 'not-yet-valid', 'revoked'] },
    warning: strOrNull,
    revokedAt: strOrNull,
    createdAt: str,
  },
} as const;

const tags = ['encryption'];
const keyParams = { type: 'object', required: ['key'], properties: { key: { type: 'string', minLength: 1, description: 'id or fingerprint' } } } as const;

export const encryptionRoutes: RouteModule = (app, ctx) => {
  app.get('/api/v1/encryption/keys', {
    config: { permission: 'encryption.read' },
    schema: {
      tags,
      summary: 'Keys and certificates with their expiry (a domain administrator sees its domains)',
      querystring: { type: 'object', properties: { address: str, domain: str, kind: { type: 'string', enum: ['smime', 'pgp'] }, expiring: { type: 'boolean' }, revoked: { type: 'boolean' } } },
      response: { 200: listOf(encryptionKeySchema) },
    },
  }, async (req) => {
    const q = req.query as { address?: string; domain?: string; kind?: string; expiring?: boolean; revoked?: boolean };
    return { items: await listKeys(ctx.db, actorOf(req), { ...(q.address ? { address: q.address } : {}), ...(q.domain ? { domain: q.domain } : {}), ...(q.kind ? { kind: q.kind } : {}), expiring: !!q.expiring, includeRevoked: !!q.revoked }) };
  });

  app.post('/api/v1/encryption/keys', {
    config: { permission: 'encryption.write' },
    schema: {
      tags,
      summary: 'Import a key file (data, base64: PEM/DER certificate, PKCS#12 with password, trust anchors with ca) or generate a key for an internal address (generate: true)',
      body: {
        type: 'object',
        additionalProperties: false,
        properties: {
          kind: { type: 'string', enum: ['smime', 'pgp'] },
          data: { type: 'string', minLength: 1, description: 'the file, base64' },
          password: { type: 'string' },
          address: { type: 'string', minLength: 3 },
          ca: { type: 'boolean' },
          generate: { type: 'boolean' },
        },
      },
      response: { 201: listOf(encryptionKeySchema) },
    },
  }, async (req, reply) => {
    const b = req.body as { kind?: string; data?: string; password?: string; address?: string; ca?: boolean; generate?: boolean };
    const actor = actorOf(req);
    const kind = b.kind ?? 'smime';
    if (b.generate) {
      if (!b.address) throw new ServiceError('invalid', 'generate needs the address', { address: 'required' });
      const domains = (await ctx.db.selectFrom('relay_domains').select('domain').execute()).map((r) => r.domain);
      const view = await generateKey(ctx.db, actor, ctx.masterKey(), kind, b.address, { hostname: ctx.config.hostname, isLocalDomain: (d) => domains.includes(d) });
      return reply.status(201).send({ items: [view] });
    }
    if (!b.data) throw new ServiceError('invalid', 'data (the key file, base64) is required to import', { data: 'required' });
    const items = await importKeys(ctx.db, actor, ctx.masterKey(), kind, { data: Buffer.from(b.data, 'base64'), ...(b.password !== undefined ? { password: b.password } : {}), ...(b.address ? { address: b.address } : {}), ca: !!b.ca });
    return reply.status(201).send({ items });
  });

  app.get('/api/v1/encryption/keys/:key/public', {
    config: { permission: 'encryption.read' },
    schema: {
      tags,
      summary: 'The public half of a key (PEM certificate chain or armored key); key "ca": the internal CA certificate',
      params: keyParams,
      response: { 200: { type: 'object', required: ['kind', 'fingerprint', 'publicMaterial'], properties: { kind: str, fingerprint: str, publicMaterial: str } } },
    },
  }, async (req) => {
    const key = (req.params as { key: string }).key;
    return exportKey(ctx.db, actorOf(req), key === 'ca' ? { ca: true } : key);
  });

  app.post('/api/v1/encryption/keys/:key/revoke', {
    config: { permission: 'encryption.write' },
    schema: { tags, summary: 'Revoke a key for every address it is stored for', params: keyParams, response: { 200: listOf(encryptionKeySchema) } },
  }, async (req) => ({ items: await revokeKey(ctx.db, actorOf(req), (req.params as { key: string }).key) }));
};
