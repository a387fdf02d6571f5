// What the portal's pages need from the running gateway, and the portal's own session
// (a cookie of its own, apart from the admin console's; the sessions table is shared).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { SqlBayesStore } from '../../db/repos/bayes-store.ts';
import { findUserById } from '../../db/repos/users.ts';
import { LinkSigner } from '../../portal/action-links.ts';
import { bayesLearner } from '../../quarantine/bayes-learner.ts';
import { mailAdmins } from '../../notify/admin-checks.ts';
import { PORTAL_ROLE } from '../../services/actor.ts';
import { portalUserOf, type PortalDeps, type PortalUser } from '../../services/portal-service.ts';
import { createSession, resolveSession, type ActiveSession } from '../../services/session-service.ts';
import type { UserRow } from '../../db/schema.ts';
import { ServiceError } from '../../services/service-error.ts';
import { clientAddress } from '../authenticate.ts';
import type { HttpContext } from '../context.ts';

export const PORTAL_COOKIE = '__Host-hermes_portal';

export function portalDeps(ctx: HttpContext): PortalDeps {
  const gw = ctx.gateway;
  if (!gw) throw new ServiceError('unavailable', 'the portal needs the running gateway');
  return {
    db: ctx.db,
    store: gw.quarantine.service,
    settings: ctx.settings,
    learn: bayesLearner(new SqlBayesStore(ctx.db)),
    notifyAdmins: async (subject, text) => {
      await mailAdmins(gw.notifier, subject, text, 'release-request');
    },
  };
}

let signer: Promise<LinkSigner> | null = null;
export function linkSigner(ctx: HttpContext): Promise<LinkSigner> {
  if (ctx.gateway) return ctx.gateway.notifier.links();
  return (signer ??= LinkSigner.open(ctx.db, ctx.masterKey()));
}

export interface PortalSession {
  session: ActiveSession;
  user: PortalUser;
  row: UserRow;
}

/** The signed-in portal user, or null. */
export async function portalSession(ctx: HttpContext, request: FastifyRequest): Promise<PortalSession | null> {
  const cookie = request.cookies[PORTAL_COOKIE];
  if (!cookie) return null;
  const session = await resolveSession(ctx.db, cookie, clientAddress(request), await ctx.settings());
  if (!session || session.user.role !== PORTAL_ROLE) return null;
  const row = (await findUserById(ctx.db, session.user.id))!;
  return { session, row, user: await portalUserOf(ctx.db, row, session.actor) };
}

export async function startPortalSession(ctx: HttpContext, request: FastifyRequest, reply: FastifyReply, user: UserRow): Promise<void> {
  const s = await createSession(ctx.db, user, { address: clientAddress(request), userAgent: request.headers['user-agent'] ?? '' }, await ctx.settings());
  setPortalCookie(reply, s.cookie, s.expiresAt);
}

export function setPortalCookie(reply: FastifyReply, value: string, expiresAt: number): void {
  reply.setCookie(PORTAL_COOKIE, value, { path: '/', secure: true, httpOnly: true, sameSite: 'strict', expires: new Date(expiresAt) });
}
