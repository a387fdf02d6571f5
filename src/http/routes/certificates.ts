// /api/v1/certificates: the TLS certificates the listeners serve by SNI. Keys go in
// (import) and never come out: answers show the certificate's public facts and, for a
// pending CSR, the CSR.
import { createCsr, getCertificate, importCertificate, listCertificates, removeCertificate, renewCertificate, requestAcmeCertificate, setDefault, suggestedNames } from '../../services/certificate-service.ts';
import { ServiceError } from '../../services/service-error.ts';
import { trustAcmeCa } from '../../tls/acme.ts';
import { actorOf, idParams, type RouteModule } from '../route-kit.ts';
import { bool, listOf, str, strings, strOrNull } from './filter-schemas.ts';

export const certificateSchema = {
  type: 'object',
  required: ['id', 'source', 'status', 'names', 'isDefault', 'keyType', 'chainLength', 'createdAt', 'updatedAt'],
  properties: {
    id: { type: 'integer' },
    source: { type: 'string', enum: ['import', 'csr', 'acme'] },
    status: { type: 'string', enum: ['pending', 'active', 'expired'] },
    names: strings,
    isDefault: bool,
    keyType: str,
    subject: strOrNull,
    issuer: strOrNull,
    serialNumber: strOrNull,
    fingerprint: strOrNull,
    notBefore: strOrNull,
    notAfter: strOrNull,
    chainLength: { type: 'integer' },
    csr: { ...strOrNull, description: 'the CSR to give a CA (pending certificates only)' },
    acme: {
      type: 'object',
      nullable: true,
      properties: { directory: str, challenge: str, renewAfter: strOrNull, failures: { type: 'integer' }, nextAttempt: strOrNull, lastError: strOrNull },
    },
    createdAt: str,
    updatedAt: str,
  },
} as const;

const tags = ['certificates'];
const idOf = (req: { params: unknown }) => {
  const id = Number((req.params as { id: string }).id);
  if (!Number.isInteger(id) || id <= 0) throw new ServiceError('invalid', `"${(req.params as { id: string }).id}" is not a certificate id`, { id: 'a positive integer' });
  return id;
};
const keyTypes = { type: 'string', enum: ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096'] } as const;
const names = { type: 'array', minItems: 1, maxItems: 100, items: { type: 'string', minLength: 1, maxLength: 253 } } as const;

export const certificateRoutes: RouteModule = (app, ctx) => {
  trustAcmeCa(ctx.config.acme?.caFile);

  app.get('/api/v1/certificates', {
    config: { permission: 'certificates.read' },
    schema: { tags, summary: 'Stored TLS certificates (no private keys)', response: { 200: listOf(certificateSchema) } },
  }, async (req) => ({ items: await listCertificates(ctx.db, actorOf(req)) }));

  app.get('/api/v1/certificates/suggested-names', {
    config: { permission: 'certificates.read' },
    schema: { tags, summary: 'The host name and the autoconfig/autodiscover names of every relay domain', response: { 200: { type: 'object', required: ['names'], properties: { names: strings } } } },
  }, async (req) => ({ names: await suggestedNames(ctx.db, actorOf(req), ctx.config.hostname) }));

  app.get('/api/v1/certificates/:id', {
    config: { permission: 'certificates.read' },
    schema: { tags, summary: 'One certificate', params: idParams, response: { 200: certificateSchema } },
  }, async (req) => getCertificate(ctx.db, actorOf(req), idOf(req)));

  app.post('/api/v1/certificates', {
    config: { permission: 'certificates.write' },
    schema: {
      tags,
      summary: 'Import a certificate with its chain (PEM, or PKCS#12 as base64), checked first; without a key: the signed certificate of a pending CSR',
      body: {
        type: 'object',
        additionalProperties: false,
        properties: {
          pem: { type: 'string', minLength: 1, maxLength: 1_000_000, description: 'certificate, chain and (optionally) key, PEM' },
          privateKey: { type: 'string', minLength: 1, maxLength: 100_000, description: 'PEM key, when not in pem; sealed and never shown again' },
          pkcs12: { type: 'string', minLength: 1, maxLength: 1_000_000, description: 'a .p12/.pfx file, base64' },
          passphrase: { type: 'string', maxLength: 1000 },
          names: { ...names, description: 'names it must cover (refused otherwise)' },
          isDefault: bool,
        },
      },
      response: { 201: certificateSchema },
    },
  }, async (req, reply) => {
    const b = req.body as { pem?: string; privateKey?: string; pkcs12?: string; passphrase?: string; names?: string[]; isDefault?: boolean };
    if (!b.pem && !b.pkcs12) throw new ServiceError('invalid', 'give the certificate: pem (PEM text) or pkcs12 (base64)', { pem: 'required' });
    const view = await importCertificate(ctx.db, actorOf(req), ctx.masterKey(), {
      ...(b.pem ? { pem: b.pem } : {}),
      ...(b.pkcs12 ? { pkcs12: Buffer.from(b.pkcs12, 'base64') } : {}),
      ...(b.privateKey ? { keyPem: b.privateKey } : {}),
      ...(b.passphrase !== undefined ? { passphrase: b.passphrase } : {}),
      ...(b.names ? { names: b.names } : {}),
      isDefault: !!b.isDefault,
    });
    return reply.status(201).send(view);
  });

  app.post('/api/v1/certificates/csr', {
    config: { permission: 'certificates.write' },
    schema: {
      tags,
      summary: 'Make a key (sealed, never shown) and a CSR for a CA; POST the signed certificate to /api/v1/certificates later',
      body: { type: 'object', required: ['names'], additionalProperties: false, properties: { names, keyType: keyTypes } },
      response: { 201: certificateSchema },
    },
  }, async (req, reply) => reply.status(201).send(await createCsr(ctx.db, actorOf(req), ctx.masterKey(), req.body as { names: string[]; keyType?: string })));

  app.post('/api/v1/certificates/acme', {
    config: { permission: 'certificates.write' },
    schema: {
      tags,
      summary: 'Order a certificate from an ACME CA now (http-01 on the gateway\'s port-80 listener); answers when issued',
      body: {
        type: 'object',
        required: ['names'],
        additionalProperties: false,
        properties: { names, directory: { ...str, description: 'letsencrypt (default), letsencrypt-staging or a directory URL' }, email: str, challenge: { type: 'string', enum: ['http-01'] }, keyType: keyTypes, isDefault: bool },
      },
      response: { 201: certificateSchema },
    },
  }, async (req, reply) => reply.status(201).send(await requestAcmeCertificate(ctx.db, actorOf(req), ctx.masterKey(), req.body as { names: string[] }, ctx.log)));

  app.post('/api/v1/certificates/:id/renew', {
    config: { permission: 'certificates.write' },
    schema: { tags, summary: 'Renew an ACME certificate now', params: idParams, response: { 200: certificateSchema } },
  }, async (req) => renewCertificate(ctx.db, actorOf(req), ctx.masterKey(), idOf(req), ctx.log));

  app.put('/api/v1/certificates/:id/default', {
    config: { permission: 'certificates.write' },
    schema: { tags, summary: 'Serve this certificate to clients that ask for no (or an unknown) name', params: idParams, response: { 200: certificateSchema } },
  }, async (req) => setDefault(ctx.db, actorOf(req), idOf(req)));

  app.delete('/api/v1/certificates/:id', {
    config: { permission: 'certificates.write' },
    schema: { tags, summary: 'Remove a certificate and its key', params: idParams, response: { 200: certificateSchema } },
  }, async (req) => removeCertificate(ctx.db, actorOf(req), idOf(req)));
};

