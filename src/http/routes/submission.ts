// /api/v1/users/:id/app-passwords and /sender-addresses: mail client passwords (an
// administrator for anyone, a signed-in user for themselves) and the addresses a user
// may send as on the submission ports (administrators assign them; a user may look).
import { createAppPassword, listUserAppPasswords, revokeUserAppPassword } from '../../services/app-password-service.ts';
import { addSenderAddress, getSenderAddresses, removeSenderAddress } from '../../services/sender-address-service.ts';
import { actorOf, idParams, okSchema, type RouteModule } from '../route-kit.ts';

const appPasswordSchema = {
  type: 'object',
  required: ['id', 'user', 'name', 'createdAt'],
  properties: {
    id: { type: 'string' },
    user: { type: 'string' },
    name: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
    lastUsedAt: { type: 'string', format: 'date-time', nullable: true },
    lastUsedAddress: { type: 'string', nullable: true },
  },
} as const;

const sendersSchema = {
  type: 'object',
  required: ['user', 'own', 'assigned'],
  properties: { user: { type: 'string' }, own: { type: 'string', nullable: true }, assigned: { type: 'array', items: { type: 'string' } } },
} as const;

const twoParams = (name: string) => ({ type: 'object', required: ['id', name], properties: { id: { type: 'string', minLength: 1 }, [name]: { type: 'string', minLength: 1 } } }) as const;
const params = (req: { params: unknown }) => req.params as { id: string; appPassword?: string; address?: string };

export const submissionRoutes: RouteModule = (app, ctx) => {
  app.get('/api/v1/users/:id/app-passwords', {
    config: { signedIn: true },
    schema: { tags: ['users'], summary: "A user's app passwords for mail clients (never the secrets)", params: idParams, response: { 200: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: appPasswordSchema } } } } },
  }, async (req) => ({ items: await listUserAppPasswords(ctx.db, actorOf(req), params(req).id) }));

  app.post('/api/v1/users/:id/app-passwords', {
    config: { signedIn: true },
    schema: {
      tags: ['users'],
      summary: 'Create an app password for a mail client; the password is in this answer only',
      params: idParams,
      body: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: { type: 'string', minLength: 1, maxLength: 64 } } },
      response: { 201: { type: 'object', required: ['appPassword', 'password'], properties: { appPassword: appPasswordSchema, password: { type: 'string' } } } },
    },
  }, async (req, reply) => reply.status(201).send(await createAppPassword(ctx.db, actorOf(req), params(req).id, (req.body as { name: string }).name)));

  app.delete('/api/v1/users/:id/app-passwords/:appPassword', {
    config: { signedIn: true },
    schema: { tags: ['users'], summary: 'Revoke an app password (by id or name)', params: twoParams('appPassword'), response: { 200: okSchema } },
  }, async (req) => {
    await revokeUserAppPassword(ctx.db, actorOf(req), params(req).id, params(req).appPassword!);
    return { ok: true };
  });

  app.get('/api/v1/users/:id/sender-addresses', {
    config: { signedIn: true },
    schema: { tags: ['users'], summary: 'The addresses a user may send as on the submission ports', params: idParams, response: { 200: sendersSchema } },
  }, async (req) => getSenderAddresses(ctx.db, actorOf(req), params(req).id));

  app.post('/api/v1/users/:id/sender-addresses', {
    config: { permission: 'users.write' },
    schema: {
      tags: ['users'],
      summary: 'Let a user send as an address ("*@domain": every address of the domain)',
      params: idParams,
      body: { type: 'object', required: ['address'], additionalProperties: false, properties: { address: { type: 'string', minLength: 3, maxLength: 320 } } },
      response: { 201: sendersSchema },
    },
  }, async (req, reply) => reply.status(201).send(await addSenderAddress(ctx.db, actorOf(req), params(req).id, (req.body as { address: string }).address)));

  app.delete('/api/v1/users/:id/sender-addresses/:address', {
    config: { permission: 'users.write' },
    schema: { tags: ['users'], summary: 'Take an assigned address away', params: twoParams('address'), response: { 200: sendersSchema } },
  }, async (req) => removeSenderAddress(ctx.db, actorOf(req), params(req).id, params(req).address!));
};
