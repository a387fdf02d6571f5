// The user portal in Debian's Chromium, against a real gateway and smtp-sink: an
// invitation mailed by `hermes portal invite` sets the password; a user sees only the mail
// of their own and delegated addresses (another user's message is "not found"); the
// preview is sanitised and blocks remote images until asked; release (the message
// reaches the sink once), delete, report as spam (Bayes learns), always allow and block
// the sender, the own lists page, digest frequency and language (the next digest comes
// in German), request release for a category users may not release (the admins get a
// mail), two-factor sign-in, and the empty states. Screenshots of every page and of the
// digest as a mail client renders it land in test-output/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import PostalMime from 'postal-mime';
import * as OTPAuth from 'otpauth';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createTestGateway, eventually, type TestGateway } from '../helpers/gateway.ts';
import { startSmtpSink, type SinkMessage, type SmtpSink } from '../helpers/peers.ts';
import { sendMessage, simpleMessage } from '../helpers/smtp-probe.ts';
import { launchBrowser, newContext, screenshot } from '../helpers/browser.ts';
import { httpsCall } from '../helpers/api.ts';
import { upsertRelayDomain } from '../../src/db/repos/relay-policy.ts';
import { setSettings } from '../../src/config/settings.ts';

let gw: TestGateway;
let sink: SmtpSink;
let browser: Browser;
const PASSWORD = 'correct horse battery staple';

before(async () => {
  sink = await startSmtpSink();
  gw = await createTestGateway();
  await upsertRelayDomain(gw.db, { domain: 'example.com', nextHop: `127.0.0.1:${sink.port}` });
  await setSettings(gw.db, { 'spam.autolearn': false, 'notify.from': 'quarantine@example.com', 'notify.adminAddress': 'postmaster@example.com', 'portal.baseUrl': `https://127.0.0.1:${gw.httpPort}` });
  assert.equal((await gw.cli(['rules', 'add', 'hold-test', '--when', 'header:Subject contains HOLDME', '--action', 'quarantine'])).code, 0, 'rule added');
  await gw.start();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await gw?.cleanup();
  await sink?.stop();
});

const HTML_BODY = [
  'MIME-Version: 1.0',
  'Content-Type: text/html; charset=utf-8',
  '',
  '<html><body><h1 style="color:#c00">Big news</h1><p>Our <b>spring sale</b> starts today.</p>',
  '<img src="http://tracker.outside.test/pixel.png?u=alice" alt="tracking pixel" width="1" height="1">',
  '<img src="https://images.outside.test/banner.png" alt="banner">',
  '<script>document.title="pwned"</script><a href="javascript:alert(1)" onclick="alert(2)">click me</a>',
  '</body></html>',
  '',
].join('\r\n');

async function hold(from: string, to: string, subject: string, html = false): Promise<void> {
  const plain = simpleMessage({ from, to, subject, body: `Body of ${subject}.` });
  const raw = html ? `${plain.split('MIME-Version: 1.0')[0]}${HTML_BODY}` : plain;
  const r = await sendMessage(gw.port, { from, to: [to] }, raw);
  assert.equal(r.code, 250, r.response);
}

const heldId = async (subject: string) =>
  (await eventually(async () => (await gw.db.selectFrom('quarantine').select('id').where('subject', '=', subject).executeTakeFirst()) ?? null, 20_000, `held "${subject}"`)).id;

const stateOf = async (id: string, address: string) =>
  (await gw.db.selectFrom('quarantine_recipients').select('state').where('quarantine_id', '=', id).where('address', '=', address).executeTakeFirstOrThrow()).state;

const isDigest = (m: SinkMessage) => /^Auto-Submitted: auto-generated/m.test(m.raw.toString('latin1'));
const arrivals = async (subject: string) => (await sink.messages()).filter((m) => !isDigest(m) && m.raw.toString('latin1').includes(`Subject: ${subject}`));
const mailTo = (address: string, subject: RegExp) =>
  eventually(async () => {
    for (const m of await sink.messages()) {
      if (!m.to.includes(address)) continue;
      const p = await PostalMime.parse(m.raw);
      if (subject.test(p.subject ?? '')) return p;
    }
    return null;
  }, 30_000, `mail to ${address} matching ${subject}`);

/** Follows the invitation mailed to `address` and sets the password: signed in afterwards. */
async function acceptInvitation(ctx: BrowserContext, address: string, shot?: string): Promise<Page> {
  assert.equal((await gw.cli(['portal', 'invite', address])).code, 0, `invite ${address}`);
  const mail = await mailTo(address, /Your mail portal account/);
  const link = /Set your password: (\S+)/.exec(mail.text ?? '')?.[1];
  assert.ok(link, `the invitation has a link: ${mail.text}`);
  const p = await ctx.newPage();
  await p.goto(link);
  await p.getByRole('heading', { name: 'Set your portal password' }).waitFor();
  if (shot) await screenshot(p, shot);
  await p.getByLabel('New password (at least 12 characters)').fill(PASSWORD);
  await p.getByLabel('The same again').fill(PASSWORD);
  await p.getByRole('button', { name: 'Set password and sign in' }).click();
  await p.getByRole('heading', { name: 'Held for you' }).waitFor();
  return p;
}

async function openMessage(p: Page, subject: string): Promise<void> {
  await p.goto(`${gw.baseUrl}/portal/`);
  await p.getByRole('link', { name: subject }).click();
  await p.getByRole('heading', { name: subject }).waitFor();
}

test('the portal: own mail only, preview, release, delete, report, lists, digest settings, request release, 2FA, empty states', async () => {
  await hold('friend@outside.test', 'alice@example.com', 'HOLDME alice plain');
  await hold('news@outside.test', 'alice@example.com', 'HOLDME alice newsletter', true);
  await hold('junk@outside.test', 'alice@example.com', 'HOLDME alice junk');
  await hold('spammer@outside.test', 'alice@example.com', 'HOLDME alice spammer');
  await hold('partner@outside.test', 'shared@example.com', 'HOLDME shared invoice');
  await hold('someone@outside.test', 'bob@example.com', 'HOLDME bob private');
  const ids = Object.fromEntries(await Promise.all(['plain', 'newsletter', 'junk', 'spammer'].map(async (k) => [k, await heldId(`HOLDME alice ${k}`)] as const)));
  const sharedId = await heldId('HOLDME shared invoice');
  const bobId = await heldId('HOLDME bob private');

  // ---- Alice: invitation, then her quarantine with the shared mailbox delegated to her.
  const invite = await gw.cli(['portal', 'delegate', 'alice@example.com', 'shared@example.com']);
  assert.notEqual(invite.code, 0, 'delegating to an account that does not exist yet fails');
  const alice = await newContext(browser);
  const p = await acceptInvitation(alice, 'alice@example.com', 'portal-01-invitation');
  assert.equal((await gw.cli(['portal', 'delegate', 'alice@example.com', 'shared@example.com'])).code, 0, 'delegated');
  await p.goto(`${gw.baseUrl}/portal/`);
  for (const s of ['HOLDME alice plain', 'HOLDME alice newsletter', 'HOLDME alice junk', 'HOLDME alice spammer', 'HOLDME shared invoice']) {
    assert.ok(await p.getByRole('link', { name: s }).isVisible(), `alice sees "${s}"`);
  }
  assert.doesNotMatch(await p.content(), /HOLDME bob/, "alice's list says nothing about bob's mail");
  await screenshot(p, 'portal-02-quarantine');
  // Bob's message by its id: the same answer as for an id that does not exist.
  const other = await p.goto(`${gw.baseUrl}/portal/message/${bobId}`);
  assert.equal(other?.status(), 404, "bob's message is not found for alice");
  assert.doesNotMatch(await p.content(), /HOLDME bob|someone@outside/, 'nothing about it');
  const none = await p.goto(`${gw.baseUrl}/portal/message/QNOSUCHID0000`);
  assert.equal(none?.status(), 404, 'an unknown id: 404 too');
  // Nor can she act on it.
  const csrf = await (async () => {
    await p.goto(`${gw.baseUrl}/portal/`);
    await p.getByRole('link', { name: 'HOLDME alice plain' }).click();
    return p.locator('input[name=csrf]').first().getAttribute('value');
  })();
  const forged = await p.request.post(`${gw.baseUrl}/portal/message/${bobId}/release`, { form: { csrf: csrf! }, headers: { origin: gw.baseUrl } });
  assert.equal(forged.status(), 404, 'releasing bob\'s message is refused as not found');
  assert.equal(await stateOf(bobId, 'bob@example.com'), 'held', "bob's message stays held");

  // ---- Preview: sanitised HTML, remote images blocked until she asks.
  await openMessage(p, 'HOLDME alice newsletter');
  await p.getByText('remote image(s) blocked').waitFor();
  const frame = p.frameLocator('iframe.preview');
  await frame.getByRole('heading', { name: 'Big news' }).waitFor();
  const body = await httpsCall(gw.baseUrl, 'GET', `/portal/message/${ids.newsletter}/body`, { cookie: (await alice.cookies()).map((c) => `${c.name}=${c.value}`).join('; ') });
  assert.equal(body.status, 200, body.text);
  assert.doesNotMatch(body.text, /<script|javascript:|onclick/i, 'no script, no javascript: link, no handler in the preview');
  assert.doesNotMatch(body.text, /tracker\.outside\.test/, 'the remote image URL is not even in the page');
  assert.match(body.headers['content-security-policy'] as string, /img-src data:;/, 'and the CSP forbids remote images');
  await screenshot(p, 'portal-03-preview-images-blocked');
  await p.getByRole('link', { name: 'Show remote images' }).click();
  await p.waitForURL(/images=1/);
  const shown = await httpsCall(gw.baseUrl, 'GET', `/portal/message/${ids.newsletter}/body?images=1`, { cookie: (await alice.cookies()).map((c) => `${c.name}=${c.value}`).join('; ') });
  assert.match(shown.text, /images\.outside\.test\/banner\.png/, 'asked for: the image is there');
  assert.match(shown.headers['content-security-policy'] as string, /img-src https: http:/, 'and allowed');
  assert.doesNotMatch(shown.text, /<script/i, 'still no script');
  await screenshot(p, 'portal-04-preview-images-shown');

  // ---- Release: exactly that message arrives, once.
  await openMessage(p, 'HOLDME alice plain');
  await screenshot(p, 'portal-05-message');
  await p.getByRole('button', { name: 'Release', exact: true }).click();
  await p.getByText('Released: the message is on its way to your inbox.').waitFor();
  assert.doesNotMatch(await p.content(), /HOLDME alice plain/, 'no longer listed');
  await eventually(async () => ((await arrivals('HOLDME alice plain')).length ? true : null), 30_000, 'the released message at the sink');
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal((await arrivals('HOLDME alice plain')).length, 1, 'exactly one copy arrived');
  assert.equal((await arrivals('HOLDME alice junk')).length, 0, 'nothing else arrived');

  // ---- Delete.
  await openMessage(p, 'HOLDME alice junk');
  await p.getByRole('button', { name: 'Delete' }).click();
  await p.getByText('Deleted.').waitFor();
  assert.equal(await stateOf(ids.junk!, 'alice@example.com'), 'deleted', 'deleted');

  // ---- Report as spam: the classifier learns it.
  await openMessage(p, 'HOLDME alice spammer');
  await p.getByRole('button', { name: 'Report spam' }).click();
  await p.getByText('Thanks: the filter learned this message as spam.').waitFor();
  const learned = await gw.db.selectFrom('events').select('detail').where('type', '=', 'quarantine-learned').execute();
  assert.ok(learned.some((e) => (e.detail ?? '').includes(ids.spammer!) && (e.detail ?? '').includes('"as":"spam"')), 'learned as spam, in the trace');
  const bayes = await gw.cli(['bayes', 'stats']);
  assert.match(bayes.stdout, /^spam messages\s+1\b/m, `Bayes counts one spam: ${bayes.stdout}`);

  // ---- Block that sender, always allow the newsletter's.
  await p.getByRole('button', { name: 'Block sender' }).click();
  await p.getByText('The sender is on your block list.').waitFor();
  await openMessage(p, 'HOLDME alice newsletter');
  await p.getByRole('button', { name: 'Always allow sender' }).click();
  await p.getByText('The sender is on your allow list.').waitFor();
  const check = await gw.cli(['lists', 'check', '--from', 'spammer@outside.test', '--to', 'alice@example.com']);
  assert.match(check.stdout + check.stderr, /block/i, `the gateway's lists block spammer@ for alice: ${check.stdout}${check.stderr}`);

  // ---- Her lists page: add a domain, remove it.
  await p.getByRole('link', { name: 'Allow & block' }).click();
  await p.getByRole('heading', { name: 'Your allow and block lists' }).waitFor();
  assert.ok(await p.getByRole('cell', { name: 'spammer@outside.test' }).isVisible(), 'blocked sender listed');
  assert.ok(await p.getByRole('cell', { name: 'news@outside.test' }).isVisible(), 'allowed sender listed');
  await p.getByLabel('Address or domain').fill('friends.example');
  await p.locator('#list').selectOption('allow');
  await p.locator('#owner').selectOption('alice@example.com');
  await p.getByRole('button', { name: 'Add' }).click();
  await p.getByText('Added to your list.').waitFor();
  await screenshot(p, 'portal-06-lists');
  await p.getByRole('row', { name: /friends\.example/ }).getByRole('button', { name: 'Remove' }).click();
  await p.getByText('Removed from your list.').waitFor();
  assert.equal(await p.getByRole('cell', { name: 'friends.example' }).count(), 0, 'removed');
  // Another user's address is not hers to change.
  const csrf2 = await p.locator('input[name=csrf]').first().getAttribute('value');
  const bobList = await p.request.post(`${gw.baseUrl}/portal/lists/add`, { form: { csrf: csrf2!, owner: 'bob@example.com', list: 'allow', value: 'evil.test' }, headers: { origin: gw.baseUrl } });
  assert.equal(bobList.status(), 403, 'no entries on bob\'s lists');

  // ---- Digest settings: weekly, in German.
  await p.goto(`${gw.baseUrl}/portal/settings`);
  const mine = p.locator('form.digest-prefs', { has: p.locator('input[name=address][value="alice@example.com"]') });
  await mine.locator('select[name=frequency]').selectOption('weekly');
  await mine.locator('select[name=language]').selectOption('de');
  await mine.getByRole('button', { name: 'Save' }).click();
  await p.getByText('Your digest settings are saved.').waitFor();
  const prefs = await gw.db.selectFrom('recipient_prefs').selectAll().where('address', '=', 'alice@example.com').executeTakeFirstOrThrow();
  assert.deepEqual({ f: prefs.digest_frequency, l: prefs.language }, { f: 'weekly', l: 'de' }, 'saved');
  await screenshot(p, 'portal-07-settings');

  // ---- Request release where users may not release (here: policy rule holds).
  await setSettings(gw.db, { 'portal.requestOnlyCategories': ['malware', 'rule'] });
  await eventually(async () => {
    await openMessage(p, 'HOLDME shared invoice');
    return (await p.getByRole('button', { name: 'Request release' }).count()) ? true : null;
  }, 15_000, 'the request-only setting applies');
  await p.getByRole('button', { name: 'Request release' }).click();
  await p.getByText('Your release request was sent to your administrators.').waitFor();
  await screenshot(p, 'portal-08-release-requested');
  const adminMail = await mailTo('postmaster@example.com', /Release requested: HOLDME shared invoice/);
  assert.match(adminMail.text ?? '', /alice@example\.com asks for the release/, 'the admins learn who asks');
  assert.match(adminMail.text ?? '', new RegExp(`hermes quarantine release ${sharedId}`), 'and how to release it');
  assert.equal(await stateOf(sharedId, 'shared@example.com'), 'held', 'still held: an admin decides');
  await setSettings(gw.db, { 'portal.requestOnlyCategories': ['malware'] });

  // ---- The next digest is in German; shot as a mail client shows it.
  await hold('later@outside.test', 'alice@example.com', 'HOLDME alice later');
  await heldId('HOLDME alice later');
  const run = await gw.cli(['digest', 'run', '--force']);
  assert.equal(run.code, 0, run.stderr);
  const digest = await mailTo('alice@example.com', /^Quarantäne-Übersicht/);
  assert.match(digest.text ?? '', /HOLDME alice later/, 'the new message is listed');
  assert.match(digest.text ?? '', /Freigeben:/, 'with German labels');
  const view = await alice.newPage();
  await view.setContent(digest.html!);
  await screenshot(view, 'portal-09-digest-mail-de');
  await view.close();

  // ---- Two-factor authentication, then sign out and in again with a code.
  await p.goto(`${gw.baseUrl}/portal/settings`);
  await p.getByRole('button', { name: 'Set up two-factor authentication' }).click();
  await p.getByRole('heading', { name: 'Scan this code with your authenticator app' }).waitFor();
  await screenshot(p, 'portal-10-totp-setup');
  const secret = (await p.locator('code').first().innerText()).trim();
  const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' });
  await p.getByLabel('Code the app shows now').fill(totp.generate());
  await p.getByRole('button', { name: 'Turn on' }).click();
  await p.getByText('Two-factor authentication is on.').waitFor();
  await p.getByRole('button', { name: 'Sign out' }).click();
  await p.getByRole('heading', { name: 'Sign in to the mail portal' }).waitFor();
  await p.getByLabel('Your mail address').fill('alice@example.com');
  await p.getByLabel('Password').fill(PASSWORD);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.getByLabel(/Code from your authenticator app/).waitFor();
  await p.getByLabel('Password').fill(PASSWORD);
  await p.getByLabel(/Code from your authenticator app/).fill(totp.generate({ timestamp: Date.now() + 30_000 }));
  await screenshot(p, 'portal-11-login-totp');
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.getByRole('heading', { name: 'Held for you' }).waitFor();
  await alice.close();

  // ---- Bob: only his own; once it is gone, the empty states say what to do next.
  const bobCtx = await newContext(browser);
  const b = await acceptInvitation(bobCtx, 'bob@example.com');
  assert.ok(await b.getByRole('link', { name: 'HOLDME bob private' }).isVisible(), 'bob sees his message');
  assert.doesNotMatch(await b.content(), /HOLDME alice|HOLDME shared/, 'and nothing of alice or the shared mailbox');
  await openMessage(b, 'HOLDME bob private');
  await b.getByRole('button', { name: 'Delete' }).click();
  await b.getByText('Deleted.').waitFor();
  await b.getByText('Nothing is held for you.').waitFor();
  assert.ok(await b.getByRole('link', { name: 'Settings' }).first().isVisible(), 'the empty state points to the settings');
  assert.match(await b.locator('.empty').innerText(), /digest once a day/, 'and says when the next digest comes');
  await screenshot(b, 'portal-12-empty-quarantine');
  await b.goto(`${gw.baseUrl}/portal/lists`);
  await b.getByText('Your lists are empty.').waitFor();
  await screenshot(b, 'portal-13-empty-lists');
  await bobCtx.close();

  // ---- A password an administrator provisions is temporary: the portal asks for the user's own first.
  assert.equal((await gw.cli(['portal', 'invite', 'carol@example.com'])).code, 0, 'carol has an account');
  const reset = await gw.cli(['admin', 'reset-password', 'carol@example.com']);
  const temporary = /temporary password for \S+: (\S+)/.exec(reset.stdout)?.[1];
  assert.ok(temporary, `a temporary password: ${reset.stdout}${reset.stderr}`);
  const carolCtx = await newContext(browser);
  const c = await carolCtx.newPage();
  await c.goto(`${gw.baseUrl}/portal/login`);
  await screenshot(c, 'portal-14-login');
  await c.getByLabel('Your mail address').fill('carol@example.com');
  await c.getByLabel('Password').fill(temporary);
  await c.getByRole('button', { name: 'Sign in' }).click();
  await c.getByText('You signed in with a temporary password: choose your own below.').waitFor();
  await c.goto(`${gw.baseUrl}/portal/`);
  await c.getByText('You signed in with a temporary password: choose your own below.').waitFor();
  await c.getByLabel('Current password').fill(temporary);
  await c.getByLabel(/New password/).fill(PASSWORD);
  await c.getByRole('button', { name: 'Change password' }).click();
  await c.getByText('Your password is changed.').waitFor();
  await c.goto(`${gw.baseUrl}/portal/`);
  await c.getByText('Nothing is held for you.').waitFor();
  await carolCtx.close();

  // ---- The audit log has each change, by its user.
  const audit = await gw.db.selectFrom('audit_log').select(['action', 'actor_name']).where('actor_name', '=', 'alice@example.com').execute();
  const actions = new Set(audit.map((a) => a.action));
  for (const a of ['quarantine.release', 'quarantine.delete', 'quarantine.learn-spam', 'list.add', 'list.remove', 'portal.digest-prefs', 'quarantine.release-request']) assert.ok(actions.has(a), `audit has ${a}: ${[...actions].join(', ')}`);
});
