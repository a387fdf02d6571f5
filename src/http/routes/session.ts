// The console's own session and the signed-in user's account:
//   POST /api/v1/session (sign in), GET (who am I + CSRF token), DELETE (sign out);
//   POST /api/v1/me/password; POST /api/v1/me/totp (start 2FA), POST /api/v1/me/totp/confirm.
import type { FastifyReply } from 'fastify';
import { endSession, SESSION_COOKIE } from '../../services/session-service.ts';
import { login, type LoginRequest } from '../../services/login-service.ts';
import { confirmTotpEnrolment, startTotpEnrolment } from '../../services/totp-service.ts';
import { changeOwnPassword, toUserInfo } from '../../services/user-service.ts';
import { ServiceError } from '../../services/service-error.ts';
import { clientAddress } from '../authenticate.ts';
import { actorOf, okSchema, type RouteModule } from '../route-kit.ts';
import { userSchema } from './users.ts';

const sessionSchema = {
  type: 'object',
  required: ['user', 'csrfToken'],
  properties: {
    user: userSchema,
    csrfToken: { type: 'string' },
    expiresAt: { type: 'string', format: 'date-time' },
    /** What the console must do before anything else: change the password, enrol 2FA. */
    required: { type: 'string', enum: ['password_change', 'totp_enrolment'], nullable: true },
  },
} as const;

function clearCookie(reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, { path: '/', secure: true, httpOnly: true, sameSite: 'strict' });
}

export const sessionRoutes: RouteModule = (app, ctx) => {
  app.post('/api/v1/session', {
    config: { public: true },
    schema: {
      tags: ['session'],
      summary: 'Sign in: sets the session cookie; answers the CSRF token for state changes',
      security: [],
      body: {
        type: 'object',
        required: ['username', 'password'],
        additionalProperties: false,
        properties: { username: { type: 'string', minLength: 1, maxLength: 64 }, password: { type: 'string', minLength: 1, maxLength: 1024 }, totp: { type: 'string', maxLength: 32 } },
      },
      response: { 200: sessionSchema },
    },
  }, async (req, reply) => {
    // A session cookie sent along (someone else's, planted) is ended: a sign-in always
    // starts a new session id, so no session can be fixed in advance.
    const old = req.cookies[SESSION_COOKIE];
    if (old) await endSession(ctx.db, old);
    const settings = await ctx.settings();
    const r = await login(ctx.db, ctx.masterKey, settings, req.body as LoginRequest, { address: clientAddress(req), userAgent: req.headers['user-agent'] });
    reply.setCookie(SESSION_COOKIE, r.cookie, { path: '/', secure: true, httpOnly: true, sameSite: 'strict' });
    const required = r.user.must_change_password === 1 ? 'password_change' : r.user.totp_enabled === 0 && settings['console.require2faRoles'].includes(r.user.role) ? 'totp_enrolment' : null;
    return { user: toUserInfo(r.user), csrfToken: r.csrfToken, expiresAt: new Date(r.expiresAt).toISOString(), required };
  });

  app.get('/api/v1/session', {
    config: { signedIn: true, duringSetup: true },
    schema: { tags: ['session'], summary: 'The signed-in user and the CSRF token', response: { 200: sessionSchema } },
  }, async (req) => {
    const s = req.consoleSession;
    if (!s) throw new ServiceError('forbidden', 'an API token has no console session');
    const settings = await ctx.settings();
    const required = s.user.must_change_password === 1 ? 'password_change' : s.user.totp_enabled === 0 && settings['console.require2faRoles'].includes(s.user.role) ? 'totp_enrolment' : null;
    return { user: toUserInfo(s.user), csrfToken: s.csrfToken, expiresAt: new Date(s.expiresAt).toISOString(), required };
  });

  app.delete('/api/v1/session', {
    config: { signedIn: true, duringSetup: true },
    schema: { tags: ['session'], summary: 'Sign out', response: { 200: okSchema } },
  }, async (req, reply) => {
    const cookie = req.cookies[SESSION_COOKIE];
    if (cookie) await endSession(ctx.db, cookie);
    clearCookie(reply);
    return { ok: true };
  });

  app.post('/api/v1/me/password', {
    config: { signedIn: true, duringSetup: true },
    schema: {
      tags: ['session'],
      summary: 'Change your own password (ends your other sessions)',
      body: { type: 'object', required: ['currentPassword', 'newPassword'], additionalProperties: false, properties: { currentPassword: { type: 'string', maxLength: 1024 }, newPassword: { type: 'string', maxLength: 1024 } } },
      response: { 200: userSchema },
    },
  }, async (req) => {
    const b = req.body as { currentPassword: string; newPassword: string };
    return changeOwnPassword(ctx.db, actorOf(req), b.currentPassword, b.newPassword, req.consoleSession?.idHash);
  });

  app.post('/api/v1/me/totp', {
    config: { signedIn: true, duringSetup: true },
    schema: {
      tags: ['session'],
      summary: 'Start two-factor enrolment: a new secret, its otpauth URL and a QR code (SVG)',
      response: { 200: { type: 'object', required: ['secret', 'otpauthUrl', 'qrSvg'], properties: { secret: { type: 'string' }, otpauthUrl: { type: 'string' }, qrSvg: { type: 'string' } } } },
    },
  }, async (req) => startTotpEnrolment(ctx.db, ctx.masterKey(), actorOf(req)));

  app.post('/api/v1/me/totp/confirm', {
    config: { signedIn: true, duringSetup: true },
    schema: {
      tags: ['session'],
      summary: 'Confirm enrolment with a code from the app; answers 10 single-use recovery codes, shown this once',
      body: { type: 'object', required: ['code'], additionalProperties: false, properties: { code: { type: 'string', minLength: 6, maxLength: 6 } } },
      response: { 200: { type: 'object', required: ['recoveryCodes'], properties: { recoveryCodes: { type: 'array', items: { type: 'string' } } } } },
    },
  }, async (req) => confirmTotpEnrolment(ctx.db, ctx.masterKey(), actorOf(req), (req.body as { code: string }).code));
};
