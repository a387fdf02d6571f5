// The user portal's pages (server-rendered, no script): sign-in, the quarantine by
// category, a safe preview, actions, own allow/block lists, digest frequency, password
// and 2FA. Every POST carries the session's CSRF token in the form and must come from
// our own origin; every page shows only mail held for the user's own addresses.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { categoryLabel } from '../../notify/compose.ts';
import { DIGEST_LANGUAGES, LANGUAGE_NAMES } from '../../notify/digest-text.ts';
import { PORTAL_ROLE } from '../../services/actor.ts';
import { login } from '../../services/login-service.ts';
import {
  addOwnListEntry,
  deleteOwn,
  digestChoices,
  DIGEST_FREQUENCIES,
  getOwnItem,
  listOwnQuarantine,
  listSenderOf,
  ownCategories,
  ownListEntries,
  releaseOwn,
  removeOwnListEntry,
  renderOwn,
  reportOwn,
  requestRelease,
  setDigestPrefs,
  type OwnItem,
} from '../../services/portal-service.ts';
import { sameSecret } from '../../services/secret-tokens.ts';
import { endSession } from '../../services/session-service.ts';
import { ServiceError } from '../../services/service-error.ts';
import { confirmTotpEnrolment, startTotpEnrolment } from '../../services/totp-service.ts';
import { changeOwnPassword } from '../../services/user-service.ts';
import { clientAddress } from '../authenticate.ts';
import type { HttpContext } from '../context.ts';
import { html, page, problemPage, type Html } from './html.ts';
import { PORTAL_COOKIE, portalDeps, portalSession, setPortalCookie, type PortalSession } from './portal-context.ts';

const CATEGORIES = ['spam', 'malware', 'banned', 'badheader', 'rule', 'auth', 'malformed'];

const FLASH: Record<string, string> = {
  released: 'Released: the message is on its way to your inbox.',
  deleted: 'Deleted.',
  'reported-spam': 'Thanks: the filter learned this message as spam.',
  'reported-ham': 'Thanks: the filter learned this message as not spam.',
  requested: 'Your release request was sent to your administrators.',
  'already-requested': 'You asked for this release already; your administrators have it.',
  allowed: 'The sender is on your allow list.',
  blocked: 'The sender is on your block list.',
  'list-added': 'Added to your list.',
  'list-removed': 'Removed from your list.',
  digest: 'Your digest settings are saved.',
  password: 'Your password is changed.',
  'choose-password': 'You signed in with a temporary password: choose your own below.',
};

function send(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply.status(status).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(body);
}

const STATUS: Record<string, number> = { not_found: 404, conflict: 409, forbidden: 403, invalid: 400, unavailable: 503, unauthenticated: 401, locked: 423, rate_limited: 429 };

function sameOrigin(request: FastifyRequest): boolean {
  const site = request.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin') return false;
  const origin = request.headers.origin;
  return !(typeof origin === 'string' && origin !== 'null' && origin !== `https://${request.headers.host}`);
}

const when = (iso: string) => `${iso.replace('T', ' ').slice(0, 16)} UTC`;
const flash = (request: FastifyRequest) => {
  const m = FLASH[(request.query as { msg?: string }).msg ?? ''];
  return m ? html`<p class="notice" role="status">${m}</p>` : '';
};

/** What an empty quarantine page says: that nothing is wrong, and where to go from here. */
function emptyQuarantine(category: string | undefined, frequency: string): Html {
  if (category) return html`<div class="empty"><p><strong>Nothing is held for you as ${categoryLabel(category)}.</strong></p><p><a href="/portal/">See everything held for you</a>.</p></div>`;
  const when = ({ never: 'Digests are off', hourly: 'You get a digest every hour', daily: 'You get a digest once a day', weekly: 'You get a digest once a week' } as Record<string, string>)[frequency] ?? 'You get a digest';
  return html`<div class="empty"><p><strong>Nothing is held for you.</strong> All mail to your addresses was delivered.</p>
<p>When the filter holds a message for you, it appears here. ${when} when something new was held: change that in <a href="/portal/settings">Settings</a>.</p>
<p>Expecting mail that did not arrive? Ask the sender to check the address, or put them on <a href="/portal/lists">your allow list</a> so the spam checks never hold their mail.</p></div>`;
}

export async function portalRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  /** Runs `fn` for a signed-in portal user; others go to the sign-in page. POSTs need the CSRF token. */
  const signedIn = (fn: (s: PortalSession, request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | string>) => async (request: FastifyRequest, reply: FastifyReply) => {
    const s = await portalSession(ctx, request);
    if (!s) {
      if (request.method === 'GET') return reply.status(303).header('location', '/portal/login').send();
      return send(reply, 401, problemPage('Signed out', 'Your session has ended. Sign in again.', { href: '/portal/login', label: 'Sign in' }));
    }
    // A password an administrator provisioned (hermes admin reset-password) is temporary:
    // the user chooses their own before anything else.
    if (request.method === 'GET' && s.row.must_change_password === 1 && !request.url.startsWith('/portal/settings')) {
      return reply.status(303).header('location', '/portal/settings?msg=choose-password').send();
    }
    if (request.method === 'POST') {
      const sent = ((request.body ?? {}) as Record<string, string>).csrf;
      if (!sameOrigin(request) || typeof sent !== 'string' || !sameSecret(sent, s.session.csrfToken)) return send(reply, 403, problemPage('Refused', 'This form is out of date. Reload the page and try again.'));
    }
    try {
      const out = await fn(s, request, reply);
      return typeof out === 'string' ? send(reply, 200, out) : out;
    } catch (err) {
      if (!(err instanceof ServiceError)) throw err;
      return send(reply, STATUS[err.code] ?? 400, page({ title: 'That did not work', nav: nav(s, ''), body: html`<section class="card problem"><h1>That did not work</h1><p>${err.message}</p><p><a href="/portal/">Back to your quarantine</a></p></section>` }));
    }
  };
  const nav = (s: PortalSession, current: string) => ({ user: s.row.username, csrf: s.session.csrfToken, current });
  const csrf = (s: PortalSession) => html`<input type="hidden" name="csrf" value="${s.session.csrfToken}">`;
  const back = (reply: FastifyReply, to: string, msg: string) => reply.status(303).header('location', `${to}${to.includes('?') ? '&' : '?'}msg=${msg}`).send();

  // ---- Sign-in and sign-out.
  const loginPage = (error?: string, username = '', needTotp = false) =>
    page({
      title: 'Sign in',
      body: html`<section class="card"><h1>Sign in to the mail portal</h1>${error ? html`<p class="error" role="alert">${error}</p>` : ''}
<form method="post" action="/portal/login"><label for="username">Your mail address</label><input type="email" id="username" name="username" autocomplete="username" value="${username}" required>
<label for="password">Password</label><input type="password" id="password" name="password" autocomplete="current-password" required>
${needTotp ? html`<label for="totp">Code from your authenticator app (or a recovery code)</label><input type="text" id="totp" name="totp" autocomplete="one-time-code">` : ''}
<div class="actions"><button type="submit">Sign in</button></div></form>
<p class="muted">No password yet? Use the sign-in link in your quarantine digest, or ask your administrators for an invitation.</p></section>`,
    });
  app.get('/portal/login', { config: { public: true } }, async (_request, reply) => send(reply, 200, loginPage()));
  app.post('/portal/login', { config: { public: true } }, async (request, reply) => {
    if (!sameOrigin(request)) return send(reply, 403, problemPage('Refused', 'Sign in from the portal sign-in page.'));
    const f = (request.body ?? {}) as Record<string, string>;
    const username = String(f.username ?? '').trim();
    try {
      const r = await login(ctx.db, () => ctx.masterKey(), await ctx.settings(), { username, password: String(f.password ?? ''), ...(f.totp ? { totp: String(f.totp) } : {}) }, { address: clientAddress(request), userAgent: request.headers['user-agent'] ?? '' });
      if (r.user.role !== PORTAL_ROLE) {
        await endSession(ctx.db, r.cookie);
        return send(reply, 403, loginPage('This is an administrator account: sign in to the admin console instead.', username));
      }
      setPortalCookie(reply, r.cookie, r.expiresAt);
      return reply.status(303).header('location', '/portal/').send();
    } catch (err) {
      if (!(err instanceof ServiceError)) throw err;
      const needTotp = (err.details as Record<string, string> | undefined)?.totp !== undefined;
      return send(reply, STATUS[err.code] ?? 400, loginPage(err.message, username, needTotp));
    }
  });
  app.post('/portal/logout', { config: { public: true } }, signedIn(async (s, _request, reply) => {
    await endSession(ctx.db, _request.cookies[PORTAL_COOKIE]!);
    reply.clearCookie(PORTAL_COOKIE, { path: '/', secure: true, httpOnly: true, sameSite: 'strict' });
    return reply.status(303).header('location', '/portal/login').send();
  }));

  // ---- The quarantine.
  app.get('/portal/', { config: { public: true } }, signedIn(async (s, request) => {
    const q = request.query as { category?: string; cursor?: string };
    const category = CATEGORIES.includes(q.category ?? '') ? q.category : undefined;
    const d = portalDeps(ctx);
    const [items, counts, choices] = await Promise.all([listOwnQuarantine(d, s.user, { ...(category ? { category } : {}), ...(q.cursor ? { cursor: q.cursor } : {}) }), ownCategories(d, s.user), digestChoices(d, s.user)]);
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const tab = (c: string | undefined, label: string, n: number) => html`<a href="/portal/${c ? `?category=${c}` : ''}" class="${category === c ? 'current' : ''}">${label} (${n})</a>`;
    const rows = items.items.map(
      (i) => html`<tr><td><a href="/portal/message/${i.id}">${i.subject || '(no subject)'}</a></td><td>${i.headerFrom ?? (i.from || '<>')}</td><td>${when(i.receivedAt)}</td>
<td>${categoryLabel(i.category)}</td><td class="num">${i.score === null ? '-' : i.score.toFixed(1)}</td><td>${i.recipients.map((r) => r.address).join(', ')}</td></tr>`,
    );
    return page({
      title: 'Quarantine',
      nav: nav(s, 'quarantine'),
      body: html`${flash(request)}<section class="card"><h1>Held for you</h1><p class="muted">Addresses: ${s.user.addresses.join(', ') || '(none)'}</p>
<div class="tabs">${tab(undefined, 'All', total)}${CATEGORIES.filter((c) => counts[c]).map((c) => tab(c, categoryLabel(c), counts[c]!))}</div>
${items.items.length ? html`<table><thead><tr><th>Subject</th><th>From</th><th>Received</th><th>Category</th><th class="num">Score</th><th>For</th></tr></thead><tbody>${rows}</tbody></table>` : emptyQuarantine(category, choices[0]?.effective ?? (await ctx.settings())['digest.frequency'])}
${items.nextCursor ? html`<p><a href="/portal/?${category ? `category=${category}&` : ''}cursor=${encodeURIComponent(items.nextCursor)}">Older messages</a></p>` : ''}</section>`,
    });
  }));

  app.get('/portal/message/:id', { config: { public: true } }, signedIn(async (s, request) => {
    const id = (request.params as { id: string }).id;
    const images = (request.query as { images?: string }).images === '1';
    const d = portalDeps(ctx);
    const item = await getOwnItem(d, s.user, id);
    const r = item.held ? await renderOwn(d, s.user, id, { allowRemote: images }) : null;
    const form = (action: string, label: string, cls = '') => html`<form method="post" action="/portal/message/${item.id}/${action}" class="inline">${csrf(s)}<button type="submit" class="${cls}">${label}</button></form>`;
    const preview = !r
      ? html`<p class="muted">This message is no longer held for you.</p>`
      : r.kind === 'html'
        ? html`${r.blockedRemote ? html`<p class="muted">${r.blockedRemote} remote image(s) blocked. <a href="/portal/message/${item.id}?images=1">Show remote images</a></p>` : ''}
<iframe class="preview" title="Message preview" sandbox="" referrerpolicy="no-referrer" src="/portal/message/${item.id}/body${images ? '?images=1' : ''}"></iframe>`
        : html`<pre class="preview">${r.text}</pre>`;
    const attachments = r?.attachments.length ? html`<p class="muted">Attachments: ${r.attachments.map((a) => `${a.filename ?? '(unnamed)'} (${a.mimeType}, ${a.size} bytes)`).join('; ')}</p>` : '';
    return page({
      title: item.subject ?? 'Message',
      nav: nav(s, 'quarantine'),
      body: html`${flash(request)}<section class="card"><h1>${item.subject || '(no subject)'}</h1>
<dl class="summary"><dt>From</dt><dd>${item.headerFrom ?? (item.from || '<>')}</dd><dt>Envelope sender</dt><dd>${item.from || '<>'}</dd><dt>Received</dt><dd>${when(item.receivedAt)}</dd>
<dt>Held as</dt><dd>${categoryLabel(item.category)}${item.score === null ? '' : ` (score ${item.score.toFixed(1)})`}: ${item.reason}</dd><dt>For</dt><dd>${item.recipients.map((x) => `${x.address} (${x.state})`).join(', ')}</dd></dl>
${item.held ? html`<div class="actions">${item.releasable ? form('release', 'Release') : item.releaseRequested ? html`<span class="muted">Release requested</span>` : form('request', 'Request release')}
${form('delete', 'Delete', 'danger')}${form('report-spam', 'Report spam', 'secondary')}${form('report-ham', 'Not spam', 'secondary')}${form('allow', 'Always allow sender', 'ok')}${form('block', 'Block sender', 'danger')}</div>` : ''}
</section><section class="card"><h2>Preview</h2>${preview}${attachments}</section>`,
    });
  }));

  // The sanitised HTML alone, for the preview's sandboxed frame: its own CSP, no script,
  // remote images only once the user asked (images=1).
  app.get('/portal/message/:id/body', { config: { public: true } }, async (request, reply) => {
    const s = await portalSession(ctx, request);
    if (!s) return send(reply, 401, problemPage('Signed out', 'Sign in again.'));
    const images = (request.query as { images?: string }).images === '1';
    try {
      const r = await renderOwn(portalDeps(ctx), s.user, (request.params as { id: string }).id, { allowRemote: images });
      const doc = r.kind === 'html' ? (r.html ?? '') : html`<pre>${r.text}</pre>`.value;
      reply.header('content-security-policy', `default-src 'none'; img-src ${images ? 'https: http: data: cid:' : 'data:'}; style-src 'none'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'`);
      reply.header('x-frame-options', 'SAMEORIGIN');
      return send(reply, 200, `<!doctype html><html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer"></head><body>${doc}</body></html>`);
    } catch (err) {
      if (!(err instanceof ServiceError)) throw err;
      return send(reply, STATUS[err.code] ?? 400, problemPage('Not available', err.message));
    }
  });

  app.post('/portal/message/:id/:action', { config: { public: true } }, signedIn(async (s, request, reply) => {
    const { id, action } = request.params as { id: string; action: string };
    const d = portalDeps(ctx);
    const to = `/portal/message/${encodeURIComponent(id)}`;
    switch (action) {
      case 'release':
        await releaseOwn(d, s.user, id);
        return back(reply, '/portal/', 'released');
      case 'delete':
        await deleteOwn(d, s.user, id);
        return back(reply, '/portal/', 'deleted');
      case 'report-spam':
      case 'report-ham':
        await reportOwn(d, s.user, id, action === 'report-spam' ? 'spam' : 'ham');
        return back(reply, to, action === 'report-spam' ? 'reported-spam' : 'reported-ham');
      case 'request': {
        const r = await requestRelease(d, s.user, id, ((request.body ?? {}) as Record<string, string>).comment);
        return back(reply, to, r.requested ? 'requested' : 'already-requested');
      }
      case 'allow':
      case 'block':
        await listSenderOf(d, s.user, id, action);
        return back(reply, to, action === 'allow' ? 'allowed' : 'blocked');
      default:
        throw new ServiceError('not_found', 'no such action');
    }
  }));

  // ---- Own allow and block lists.
  app.get('/portal/lists', { config: { public: true } }, signedIn(async (s, request) => {
    const entries = await ownListEntries(portalDeps(ctx), s.user);
    const rows = entries.map(
      (e) => html`<tr><td>${e.list === 'allow' ? 'Always allow' : 'Block'}</td><td>${e.value}</td><td>${e.owner}</td><td class="muted">${e.comment ?? ''}</td>
<td><form method="post" action="/portal/lists/remove" class="inline">${csrf(s)}<input type="hidden" name="id" value="${e.id}"><button type="submit" class="secondary">Remove</button></form></td></tr>`,
    );
    const owners = s.user.addresses.map((a) => html`<option value="${a}">${a}</option>`);
    return page({
      title: 'Allow and block lists',
      nav: nav(s, 'lists'),
      body: html`${flash(request)}<section class="card"><h1>Your allow and block lists</h1>
<p class="muted">Mail from senders you always allow skips the spam checks; mail from senders you block is refused. Entries are addresses or whole domains.</p>
${entries.length ? html`<table><thead><tr><th>List</th><th>Sender</th><th>For</th><th>Note</th><th></th></tr></thead><tbody>${rows}</tbody></table>` : html`<div class="empty"><p><strong>Your lists are empty.</strong></p><p>Add a sender below, or open a held message in <a href="/portal/">your quarantine</a> and choose <em>Always allow sender</em> or <em>Block sender</em>.</p></div>`}</section>
<section class="card"><h2>Add a sender</h2><form method="post" action="/portal/lists/add">${csrf(s)}
<label for="value">Address or domain</label><input type="text" id="value" name="value" required placeholder="someone@example.com or example.com">
<label for="list">List</label><select id="list" name="list"><option value="allow">Always allow</option><option value="block">Block</option></select>
<label for="owner">For</label><select id="owner" name="owner">${owners}</select>
<div class="actions"><button type="submit">Add</button></div></form></section>`,
    });
  }));
  app.post('/portal/lists/add', { config: { public: true } }, signedIn(async (s, request, reply) => {
    const f = (request.body ?? {}) as Record<string, string>;
    await addOwnListEntry(portalDeps(ctx), s.user, { owner: String(f.owner ?? ''), list: String(f.list ?? ''), value: String(f.value ?? '') });
    return back(reply, '/portal/lists', 'list-added');
  }));
  app.post('/portal/lists/remove', { config: { public: true } }, signedIn(async (s, request, reply) => {
    const id = Number(((request.body ?? {}) as Record<string, string>).id);
    if (!Number.isInteger(id)) throw new ServiceError('invalid', 'no such entry');
    await removeOwnListEntry(portalDeps(ctx), s.user, id);
    return back(reply, '/portal/lists', 'list-removed');
  }));

  // ---- Settings: digest frequency, password, 2FA.
  const settingsPage = async (s: PortalSession, request: FastifyRequest, extra: Html | string = '') => {
    const choices = await digestChoices(portalDeps(ctx), s.user);
    const st = await ctx.settings();
    const label = (f: string) => ({ never: 'Never', hourly: 'Every hour', daily: 'Every day', weekly: 'Every week' })[f] ?? f;
    const digestForms = choices.map(
      (c) => html`<form method="post" action="/portal/settings/digest" class="digest-prefs">${csrf(s)}<input type="hidden" name="address" value="${c.address}">
<h3>${c.address}</h3>
<label for="freq-${c.address}">How often</label><select id="freq-${c.address}" name="frequency"><option value="" ${c.frequency === null ? html`selected` : ''}>Default (${label(st['digest.frequency'])})</option>${DIGEST_FREQUENCIES.map((f) => html`<option value="${f}" ${c.frequency === f ? html`selected` : ''}>${label(f)}</option>`)}</select>
<label for="lang-${c.address}">Language</label><select id="lang-${c.address}" name="language"><option value="" ${c.language === null ? html`selected` : ''}>Default (${LANGUAGE_NAMES[st['digest.language']]})</option>${DIGEST_LANGUAGES.map((l) => html`<option value="${l}" ${c.language === l ? html`selected` : ''}>${LANGUAGE_NAMES[l]}</option>`)}</select>
<div class="actions"><button type="submit">Save</button></div></form>`,
    );
    return page({
      title: 'Settings',
      nav: nav(s, 'settings'),
      body: html`${flash(request)}${extra}<section class="card"><h1>Quarantine digests</h1><p class="muted">A digest lists what was held for you since the last one; none is sent when nothing new was held.</p>${digestForms}</section>
<section class="card"><h2>Password</h2><form method="post" action="/portal/settings/password">${csrf(s)}
<label for="current">Current password</label><input type="password" id="current" name="current" autocomplete="current-password" required>
<label for="next">New password (at least 12 characters)</label><input type="password" id="next" name="next" autocomplete="new-password" required minlength="12">
<div class="actions"><button type="submit">Change password</button></div></form></section>
<section class="card"><h2>Two-factor authentication</h2>${s.row.totp_enabled === 1 ? html`<p>On: signing in asks for a code from your authenticator app. If you lose your device, ask your administrators to reset it.</p>` : html`<p>Off. Turn it on to ask for a code from an authenticator app at each sign-in.</p><form method="post" action="/portal/settings/totp/start">${csrf(s)}<button type="submit">Set up two-factor authentication</button></form>`}</section>`,
    });
  };
  app.get('/portal/settings', { config: { public: true } }, signedIn(async (s, request) => settingsPage(s, request)));
  app.post('/portal/settings/digest', { config: { public: true } }, signedIn(async (s, request, reply) => {
    const f = (request.body ?? {}) as Record<string, string>;
    await setDigestPrefs(portalDeps(ctx), s.user, String(f.address ?? ''), { frequency: f.frequency ? String(f.frequency) : null, language: f.language ? String(f.language) : null });
    return back(reply, '/portal/settings', 'digest');
  }));
  app.post('/portal/settings/password', { config: { public: true } }, signedIn(async (s, request, reply) => {
    const f = (request.body ?? {}) as Record<string, string>;
    await changeOwnPassword(ctx.db, s.session.actor, String(f.current ?? ''), String(f.next ?? ''), s.session.idHash);
    return back(reply, '/portal/settings', 'password');
  }));
  app.post('/portal/settings/totp/start', { config: { public: true } }, signedIn(async (s, request) => {
    const e = await startTotpEnrolment(ctx.db, ctx.masterKey(), s.session.actor);
    const qr = `data:image/svg+xml;base64,${Buffer.from(e.qrSvg).toString('base64')}`;
    return settingsPage(s, request, html`<section class="card"><h2>Scan this code with your authenticator app</h2><img class="qr" alt="QR code for your authenticator app" src="${qr}">
<p class="muted">Or enter this key by hand: <code>${e.secret}</code></p><form method="post" action="/portal/settings/totp/confirm">${csrf(s)}
<label for="code">Code the app shows now</label><input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required><div class="actions"><button type="submit">Turn on</button></div></form></section>`);
  }));
  app.post('/portal/settings/totp/confirm', { config: { public: true } }, signedIn(async (s, request) => {
    const r = await confirmTotpEnrolment(ctx.db, ctx.masterKey(), s.session.actor, String(((request.body ?? {}) as Record<string, string>).code ?? ''));
    const fresh = (await portalSession(ctx, request)) ?? s;
    return settingsPage(fresh, request, html`<section class="card"><p class="notice">Two-factor authentication is on.</p><h2>Recovery codes</h2><p>Keep these somewhere safe: each signs you in once if you lose your device.</p><code class="codes">${r.recoveryCodes.join('\n')}</code></section>`);
  }));
}

export type { OwnItem };
