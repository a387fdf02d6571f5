// One-click links from digests and notices: GET /portal/link/<token> shows what the link
// would do and a button; only the POST from that page acts. Mail scanners that fetch every
// link in a message therefore release nothing. The form is bound to the link (a value
// only the gateway can compute from the link's id) and must come from our own origin.
// A link works once (link_uses), opens are rate limited per client address, and every
// answer is about this link's one message for its one recipient, nothing else.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { findUserByName, updateUser } from '../../db/repos/users.ts';
import { claimLinkUse, findLinkUse, releaseLinkUse } from '../../db/repos/link-uses.ts';
import { hitRateLimit } from '../../db/repos/rate-limits.ts';
import type { LinkAction, LinkClaims } from '../../portal/action-links.ts';
import { PORTAL_ROLE } from '../../services/actor.ts';
import { recordChange } from '../../services/audit-service.ts';
import { ensurePortalAccount, setPasswordFromLink } from '../../services/portal-accounts.ts';
import { deleteOwn, getOwnItem, linkUser, listSenderOf, releaseOwn, requestRelease, senderOf, traceQuarantined, type OwnItem } from '../../services/portal-service.ts';
import { ServiceError } from '../../services/service-error.ts';
import { consumeRecoveryCode, useTotpCode } from '../../services/totp-service.ts';
import { categoryLabel } from '../../notify/compose.ts';
import { clientAddress } from '../authenticate.ts';
import type { HttpContext } from '../context.ts';
import { html, page, problemPage } from './html.ts';
import { linkSigner, portalDeps, startPortalSession } from './portal-context.ts';

const WINDOW_MS = 10 * 60_000;

const ACTION_TEXT: Record<Exclude<LinkAction, 'sign-in'>, { ask: string; button: string; done: string }> = {
  release: { ask: 'Release this message to your inbox?', button: 'Release it', done: 'Released: the message is on its way to your inbox.' },
  delete: { ask: 'Delete this message?', button: 'Delete it', done: 'Deleted: the message will not be delivered.' },
  'allow-sender': { ask: 'Always allow mail from this sender?', button: 'Always allow', done: 'From now on, mail from this sender skips the spam checks for you.' },
  'block-sender': { ask: 'Block this sender?', button: 'Block sender', done: 'From now on, mail from this sender is refused for you.' },
};

function send(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply.status(status).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(body);
}

const PORTAL_LINK = { href: '/portal/', label: 'Go to the mail portal' };

function tokenProblem(reply: FastifyReply, problem: 'malformed' | 'forged' | 'expired' | 'used', usedAt?: number): FastifyReply {
  if (problem === 'expired') return send(reply, 410, problemPage('This link has expired', 'Links in digests work for a limited time. The message may still be in your quarantine: sign in to the portal to see it.', PORTAL_LINK));
  if (problem === 'used') {
    return send(reply, 410, problemPage('This link was already used', `Each link works once; this one was used${usedAt ? ` on ${new Date(usedAt).toISOString().replace('T', ' ').slice(0, 16)} UTC` : ''}. Sign in to the portal to see the message's state.`, PORTAL_LINK));
  }
  return send(reply, 400, problemPage('This link is not valid', 'The link was changed or cut short. Use it exactly as it is in your mail, or sign in to the portal.', PORTAL_LINK));
}

function serviceProblem(reply: FastifyReply, err: unknown): FastifyReply {
  if (!(err instanceof ServiceError)) throw err;
  const status = { not_found: 404, conflict: 409, forbidden: 403, invalid: 400, unavailable: 503, unauthenticated: 401, locked: 423, rate_limited: 429 }[err.code as string] ?? 400;
  const title = err.code === 'not_found' ? 'No such message' : err.code === 'conflict' ? 'Nothing to do' : 'That did not work';
  return send(reply, status, problemPage(title, err.message, PORTAL_LINK));
}

async function rateLimited(ctx: HttpContext, request: FastifyRequest, reply: FastifyReply): Promise<boolean> {
  const n = await hitRateLimit(ctx.db, `link:${clientAddress(request)}`, WINDOW_MS);
  if (n <= (await ctx.settings())['portal.linkRateLimit']) return false;
  reply.header('retry-after', String(WINDOW_MS / 1000));
  send(reply, 429, problemPage('Too many attempts', 'Too many links were opened from your address. Wait ten minutes and try again.'));
  return true;
}

/** A POST must come from our own page: browsers say where a request comes from. */
function sameOrigin(request: FastifyRequest): boolean {
  const site = request.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin') return false;
  const origin = request.headers.origin;
  if (typeof origin === 'string' && origin !== 'null' && origin !== `https://${request.headers.host}`) return false;
  return true;
}

function summary(item: OwnItem) {
  return html`<dl class="summary"><dt>From</dt><dd>${item.headerFrom ?? (item.from || '<>')}</dd><dt>Subject</dt><dd>${item.subject ?? '(no subject)'}</dd>
<dt>Received</dt><dd>${item.receivedAt.replace('T', ' ').slice(0, 16)} UTC</dd><dt>Held as</dt><dd>${categoryLabel(item.category)}${item.score === null ? '' : ` (score ${item.score.toFixed(1)})`}</dd>
<dt>For</dt><dd>${item.recipients.map((r) => r.address).join(', ')}</dd></dl>`;
}

export async function linkRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  const verify = async (token: string) => {
    const signer = await linkSigner(ctx);
    const v = signer.verify(token);
    if (!v.ok) return { problem: v.problem } as const;
    const used = await findLinkUse(ctx.db, v.claims.id);
    if (used) return { problem: 'used', usedAt: Number(used.used_at) } as const;
    return { claims: v.claims, formToken: signer.formToken(v.claims), signer } as const;
  };

  // A wildcard, not a :param: tokens are longer than the router's 100-character limit for params.
  app.get('/portal/link/*', { config: { public: true } }, async (request, reply) => {
    if (await rateLimited(ctx, request, reply)) return reply;
    const v = await verify((request.params as { '*': string })['*']);
    if ('problem' in v) return tokenProblem(reply, v.problem!, 'usedAt' in v ? v.usedAt : undefined);
    const c = v.claims;
    const hidden = html`<input type="hidden" name="token" value="${(request.params as { '*': string })['*']}"><input type="hidden" name="confirm" value="${v.formToken}">`;
    if (c.action === 'sign-in') return send(reply, 200, await signInPage(ctx, c, hidden));
    let item: OwnItem;
    try {
      item = await getOwnItem(portalDeps(ctx), linkUser(c.recipient, clientAddress(request)), c.quarantineId);
    } catch (err) {
      return serviceProblem(reply, err);
    }
    if (!item.held) return send(reply, 409, problemPage('Nothing to do', 'This message is no longer held for you: it was released or deleted already.', PORTAL_LINK));
    const t = ACTION_TEXT[c.action];
    const requestOnly = c.action === 'release' && !item.releasable;
    const sender = senderOf({ mail_from: item.from, header_from: item.headerFrom });
    const body = html`<section class="card"><h1>${requestOnly ? 'Ask for this message to be released?' : t.ask}</h1>${summary(item)}
${requestOnly ? html`<p>Messages held as ${categoryLabel(item.category)} are released by your administrators. Your request goes to them with this message's details.</p>` : ''}
${c.action === 'allow-sender' || c.action === 'block-sender' ? html`<p>Sender: <strong>${sender ?? '(none)'}</strong></p>` : ''}
<form method="post" action="/portal/link">${hidden}<div class="actions"><button type="submit" class="${c.action === 'block-sender' || c.action === 'delete' ? 'danger' : ''}">${requestOnly ? 'Request release' : t.button}</button>
<a class="button secondary" href="/portal/">Not now</a></div></form>
<p class="muted">Nothing happens until you press the button. This link works once.</p></section>`;
    return send(reply, 200, page({ title: t.ask, body }));
  });

  app.post('/portal/link', { config: { public: true } }, async (request, reply) => {
    if (await rateLimited(ctx, request, reply)) return reply;
    if (!sameOrigin(request)) return send(reply, 403, problemPage('Refused', 'This form must be sent from the confirmation page of the mail portal.'));
    const form = (request.body ?? {}) as Record<string, string>;
    const token = typeof form.token === 'string' ? form.token : '';
    const v = await verify(token);
    if ('problem' in v) return tokenProblem(reply, v.problem!, 'usedAt' in v ? v.usedAt : undefined);
    const c = v.claims;
    if (!v.signer.checkFormToken(c, form.confirm)) return send(reply, 403, problemPage('Refused', 'This form must be sent from the confirmation page of the mail portal.'));
    const address = clientAddress(request);
    const claimed = await claimLinkUse(ctx.db, { link_id: c.id, used_at: Date.now(), action: c.action, quarantine_id: c.quarantineId || null, recipient: c.recipient, expires_at: c.expiresAt, address });
    if (!claimed) return tokenProblem(reply, 'used');
    try {
      if (c.action === 'sign-in') return await signIn(ctx, request, reply, c, form);
      const d = portalDeps(ctx);
      const u = linkUser(c.recipient, address);
      let done = ACTION_TEXT[c.action].done;
      let outcome: Record<string, unknown> = {};
      if (c.action === 'release') {
        const item = await getOwnItem(d, u, c.quarantineId);
        if (item.releasable) outcome = await releaseOwn(d, u, c.quarantineId);
        else {
          outcome = await requestRelease(d, u, c.quarantineId);
          done = 'Your request was sent to your administrators. You will get the message if they release it.';
        }
      } else if (c.action === 'delete') outcome = await deleteOwn(d, u, c.quarantineId);
      else outcome = await listSenderOf(d, u, c.quarantineId, c.action === 'allow-sender' ? 'allow' : 'block');
      await traceQuarantined(ctx.db, c.quarantineId, 'link-used', { action: c.action, recipient: c.recipient, link: c.id, client: address, ...outcome });
      return send(reply, 200, page({ title: 'Done', body: html`<section class="card"><h1>Done</h1><p class="notice">${done}</p><p><a href="/portal/">Go to the mail portal</a></p></section>` }));
    } catch (err) {
      // Nothing was done: the link may be used again.
      await releaseLinkUse(ctx.db, c.id);
      return serviceProblem(reply, err);
    }
  });
}

async function signInPage(ctx: HttpContext, c: LinkClaims, hidden: ReturnType<typeof html>): Promise<string> {
  const user = await findUserByName(ctx.db, c.recipient);
  const s = await ctx.settings();
  if (user && user.role !== PORTAL_ROLE) return problemPage('Use the admin console', `${c.recipient} is an administrator account: sign in to the admin console instead.`);
  if (!user && !s['portal.selfEnrol']) return problemPage('No portal account', `There is no portal account for ${c.recipient}. Ask your administrators for an invitation.`);
  const needsPassword = !user || user.must_change_password === 1;
  const body = html`<section class="card"><h1>${needsPassword ? 'Set your portal password' : 'Sign in to the mail portal'}</h1>
<p>Account: <strong>${c.recipient}</strong></p>
<form method="post" action="/portal/link">${hidden}
${needsPassword ? html`<label for="password">New password (at least 12 characters)</label><input type="password" id="password" name="password" autocomplete="new-password" required minlength="12">
<label for="password2">The same again</label><input type="password" id="password2" name="password2" autocomplete="new-password" required minlength="12">` : ''}
${user?.totp_enabled === 1 ? html`<label for="totp">Code from your authenticator app</label><input type="text" id="totp" name="totp" autocomplete="one-time-code" inputmode="numeric" required>` : ''}
<div class="actions"><button type="submit">${needsPassword ? 'Set password and sign in' : 'Sign in'}</button></div></form>
<p class="muted">This link works once.</p></section>`;
  return page({ title: needsPassword ? 'Set your password' : 'Sign in', body });
}

async function signIn(ctx: HttpContext, request: FastifyRequest, reply: FastifyReply, c: LinkClaims, form: Record<string, string>): Promise<FastifyReply> {
  const s = await ctx.settings();
  const actor = linkUser(c.recipient, clientAddress(request)).actor;
  let user = await findUserByName(ctx.db, c.recipient);
  if (user && user.role !== PORTAL_ROLE) throw new ServiceError('forbidden', `${c.recipient} is an administrator account: sign in to the admin console instead`);
  if (!user) {
    if (!s['portal.selfEnrol']) throw new ServiceError('forbidden', `there is no portal account for ${c.recipient}; ask your administrators for an invitation`);
    user = (await ensurePortalAccount(ctx.db, actor, c.recipient)).user;
  }
  if (user.disabled === 1) throw new ServiceError('forbidden', 'this portal account is disabled; ask your administrators');
  if (user.totp_enabled === 1) {
    const code = (form.totp ?? '').trim();
    // A TOTP code is good once (useTotpCode keeps the last step used).
    const ok = /^\d{6}$/.test(code) ? (await useTotpCode(ctx.db, ctx.masterKey(), user, code)) === 'ok' : code ? await consumeRecoveryCode(ctx.db, user, code) : false;
    if (!ok) throw new ServiceError('unauthenticated', 'wrong two-factor code: open the link again and enter the code your app shows now');
  }
  if (user.must_change_password === 1) user = await setPasswordFromLink(ctx.db, actor, user, form.password ?? '', form.password2 ?? '');
  await updateUser(ctx.db, user.id, { last_login_at: Date.now(), last_login_address: clientAddress(request) });
  await recordChange(ctx.db, actor, { action: 'portal.sign-in-link', targetType: 'user', targetId: user.id, domain: c.recipient.split('@')[1] ?? null });
  await startPortalSession(ctx, request, reply, user);
  return reply.status(303).header('location', '/portal/').header('cache-control', 'no-store').send();
}
