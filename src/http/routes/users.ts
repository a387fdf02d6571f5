// /api/v1/users: accounts, for administrators (auditors may read).
import { ROLES, type Role } from '../../services/actor.ts';
import { unlock } from '../../services/login-throttle.ts';
import { createUser, deleteUser, getUser, listUsers, resetPassword, resetTotp, updateUser, type NewUser, type UserChanges } from '../../services/user-service.ts';
import { actorOf, idParams, okSchema, pageOf, pageQuery, type RouteModule } from '../route-kit.ts';

export const userSchema = {
  type: 'object',
  required: ['id', 'username', 'role'],
  properties: {
    id: { type: 'string' },
    username: { type: 'string' },
    role: { type: 'string', enum: [...ROLES] },
    domains: { type: 'array', items: { type: 'string' }, nullable: true },
    mustChangePassword: { type: 'boolean' },
    totpEnabled: { type: 'boolean' },
    disabled: { type: 'boolean' },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
    lastLoginAt: { type: 'string', format: 'date-time', nullable: true },
    lastLoginAddress: { type: 'string', nullable: true },
  },
} as const;

const withPassword = { type: 'object', required: ['user'], properties: { user: userSchema, password: { type: 'string' } } } as const;
const domains = { type: 'array', items: { type: 'string' }, nullable: true } as const;
const id = (req: { params: unknown }) => (req.params as { id: string }).id;

export const userRoutes: RouteModule = (app, ctx) => {
  app.get('/api/v1/users', {
    config: { permission: 'users.read' },
    schema: { tags: ['users'], summary: 'List accounts', querystring: pageQuery({ role: { type: 'string', enum: [...ROLES] } }), response: { 200: pageOf(userSchema) } },
  }, async (req) => listUsers(ctx.db, actorOf(req), req.query as { cursor?: string; limit?: number; role?: Role }));

  app.post('/api/v1/users', {
    config: { permission: 'users.write' },
    schema: {
      tags: ['users'],
      summary: 'Create an account; without a password one is generated, answered once, and must be changed at first sign-in',
      body: { type: 'object', required: ['username', 'role'], additionalProperties: false, properties: { username: { type: 'string', minLength: 1, maxLength: 64 }, role: { type: 'string', enum: [...ROLES] }, domains, password: { type: 'string', maxLength: 1024 } } },
      response: { 201: withPassword },
    },
  }, async (req, reply) => reply.status(201).send(await createUser(ctx.db, actorOf(req), req.body as NewUser)));

  app.get('/api/v1/users/:id', {
    config: { permission: 'users.read' },
    schema: { tags: ['users'], summary: 'One account (by id or user name)', params: idParams, response: { 200: userSchema } },
  }, async (req) => getUser(ctx.db, actorOf(req), id(req)));

  app.patch('/api/v1/users/:id', {
    config: { permission: 'users.write' },
    schema: {
      tags: ['users'],
      summary: 'Change role, domains, or disable/enable (ends the account\'s sessions)',
      params: idParams,
      body: { type: 'object', additionalProperties: false, properties: { role: { type: 'string', enum: [...ROLES] }, domains, disabled: { type: 'boolean' } } },
      response: { 200: userSchema },
    },
  }, async (req) => updateUser(ctx.db, actorOf(req), id(req), req.body as UserChanges));

  app.delete('/api/v1/users/:id', {
    config: { permission: 'users.write' },
    schema: { tags: ['users'], summary: 'Delete an account', params: idParams, response: { 200: okSchema } },
  }, async (req) => {
    await deleteUser(ctx.db, actorOf(req), id(req));
    return { ok: true };
  });

  app.post('/api/v1/users/:id/reset-password', {
    config: { permission: 'users.write' },
    schema: { tags: ['users'], summary: 'A new temporary password, answered once; must be changed at the next sign-in', params: idParams, response: { 200: withPassword } },
  }, async (req) => resetPassword(ctx.db, actorOf(req), id(req)));

  app.post('/api/v1/users/:id/reset-2fa', {
    config: { permission: 'users.write' },
    schema: { tags: ['users'], summary: 'Turn two-factor authentication off (the user enrols again)', params: idParams, response: { 200: userSchema } },
  }, async (req) => resetTotp(ctx.db, actorOf(req), id(req)));

  app.post('/api/v1/users/:id/unlock', {
    config: { permission: 'users.write' },
    schema: {
      tags: ['users'],
      summary: 'Lift a sign-in lockout of the account (and of a client address)',
      params: idParams,
      body: { type: 'object', additionalProperties: false, properties: { address: { type: 'string' } } },
      response: { 200: { type: 'object', properties: { account: { type: 'boolean' }, address: { type: 'boolean' } } } },
    },
  }, async (req) => {
    const user = await getUser(ctx.db, actorOf(req), id(req));
    return unlock(ctx.db, actorOf(req), user.username, (req.body as { address?: string } | undefined)?.address);
  });
};
