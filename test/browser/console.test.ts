// The admin console in a real browser (Debian's Chromium through playwright-core) against
// a real gateway: first sign-in with a generated password and the forced change, a relay
// domain added in the console and a message sent to it with swaks found in the trace, a
// quarantined message with hostile content shown inert (in the quarantine and the trace)
// and released to smtp-sink, 2FA enrolment and a sign-in with a TOTP code. Screenshots
// of every main page are saved in test-output/screenshots/ for people to look at.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as OTPAuth from 'otpauth';
import type { Browser, Page } from 'playwright-core';
import { createTestGateway, eventually, type TestGateway } from '../helpers/gateway.ts';
import { runSwaks, startSmtpSink, type SmtpSink } from '../helpers/peers.ts';
import { arrivedAtSink } from '../helpers/message-trace.ts';
import { launchBrowser, newContext, screenshot } from '../helpers/browser.ts';

let gw: TestGateway;
let sink: SmtpSink;
let browser: Browser;
let page: Page;
let base: string;
const dialogs: string[] = [];
const NEW_PASSWORD = 'Harbour-lights-over-9317';

before(async () => {
  sink = await startSmtpSink();
  gw = await createTestGateway();
  await gw.start();
  base = `https://127.0.0.1:${gw.httpPort}`;
  browser = await launchBrowser();
  page = await (await newContext(browser)).newPage();
  // Any alert/confirm we did not expect would be an injected script running.
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.accept();
  });
});

after(async () => {
  await browser?.close().catch(() => {});
  await gw?.cleanup().catch(() => {});
  await sink?.stop().catch(() => {});
});

async function signIn(username: string, password: string): Promise<void> {
  await page.goto(base + '/');
  await page.getByLabel('User name').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('first sign-in with the generated password forces a password change', async () => {
  const reset = await gw.cli(['admin', 'reset-password', 'admin']);
  assert.equal(reset.code, 0, reset.stderr);
  const password = /temporary password for admin: (\S+)/.exec(reset.stdout)?.[1];
  assert.ok(password, reset.stdout);
  await page.goto(base + '/');
  await screenshot(page, '01-login');
  await signIn('admin', 'not-the-password-1234');
  await page.getByRole('alert').waitFor();
  assert.match(await page.getByRole('alert').innerText(), /wrong user name or password/i);
  await signIn('admin', password);
  await page.getByRole('heading', { name: 'Choose your password' }).waitFor();
  await screenshot(page, '02-forced-password-change');
  await page.getByLabel('Current password').fill(password);
  await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
  await page.getByLabel('New password again').fill(NEW_PASSWORD);
  await page.getByRole('button', { name: /Change password/ }).click();
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  await screenshot(page, '03-dashboard-empty');
});

test('a relay domain added in the console accepts mail, and the message is in the trace', async () => {
  await page.goto(base + '/#/domains');
  await page.getByText('No relay domains yet').waitFor();
  await screenshot(page, '04-domains-empty');
  const form = page.getByRole('form', { name: 'Add a relay domain' });
  await form.getByLabel('Domain').fill('example.com');
  await form.getByLabel('Next hop', { exact: true }).fill(`127.0.0.1:${sink.port}`);
  await form.getByRole('button', { name: 'Add domain' }).click();
  await page.getByTestId('domains').getByText('example.com').waitFor();
  await screenshot(page, '05-domains');

  const sent = await runSwaks(['--server', `127.0.0.1:${gw.port}`, '--from', 'carol@sender.test', '--to', 'bob@example.com', '--header', 'Subject: Console trace check', '--body', 'Hello through the console test.']);
  assert.equal(sent.exitCode, 0, sent.stdout + sent.stderr);
  await arrivedAtSink(sink, 'Console trace check', 30_000);

  await page.goto(base + '/#/trace');
  await page.getByLabel('Address (sender or recipient)').fill('bob@example.com');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByTestId('trace').getByText('Console trace check').click();
  await page.getByTestId('timeline').waitFor();
  const timeline = await page.getByTestId('timeline').innerText();
  assert.match(timeline, /deliver/i, timeline);
  await screenshot(page, '07-trace-detail');
  await page.goto(base + '/#/trace');
  await page.getByTestId('trace').waitFor();
  await screenshot(page, '06-trace');
});

test('a quarantined message with hostile content is shown inert and released to its recipient', async () => {
  const rule = await gw.cli(['rules', 'add', 'hold-quarterly', '--when', 'header:Subject contains Quarterly', '--action', 'quarantine']);
  assert.equal(rule.code, 0, rule.stderr);
  const hostile = [
    'From: "<script>alert(4)</script> Mallory" <mallory@sender.test>',
    'To: <bob@example.com>',
    'Subject: Quarterly <img src=x onerror=alert(1)> report',
    `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
    'Message-ID: <hostile-1@sender.test>',
    'MIME-Version: 1.0',
    'Content-Type: text/html; charset=utf-8',
    '',
    '<p>Numbers inside.</p><script>alert(2)</script><img src="https://tracker.invalid/p.png" onerror="alert(5)"><a href="javascript:alert(3)">open</a>',
    '',
  ].join('\r\n');
  const sent = await runSwaks(['--server', `127.0.0.1:${gw.port}`, '--from', 'mallory@sender.test', '--to', 'bob@example.com', '--data', '-'], { stdin: hostile });
  assert.equal(sent.exitCode, 0, sent.stdout + sent.stderr);

  await page.goto(base + '/#/quarantine');
  const row = page.getByTestId('quarantine').getByText('Quarterly <img src=x onerror=alert(1)> report');
  await eventually(async () => {
    await page.getByRole('button', { name: 'Search' }).click();
    return (await row.count()) > 0;
  }, 30_000, 'the held message in the quarantine list');
  await screenshot(page, '08-quarantine');
  await row.click();
  await page.getByRole('heading', { name: 'Quarterly <img src=x onerror=alert(1)> report' }).waitFor();
  const frame = page.frameLocator('iframe.message');
  await frame.getByText('Numbers inside.').waitFor();
  assert.equal(await frame.locator('script').count(), 0, 'no script in the rendering');
  assert.equal(await frame.locator('[onerror]').count(), 0, 'no event handlers in the rendering');
  assert.equal(await frame.locator('a[href^="javascript:"]').count(), 0, 'no javascript: links');
  assert.equal(await page.locator('img[onerror], script:not([src])').count(), 0, 'nothing injected into the console');
  await page.getByText('<script>alert(4)</script> Mallory', { exact: false }).first().waitFor();
  await screenshot(page, '09-quarantine-detail');

  await page.getByRole('button', { name: 'Release', exact: true }).click();
  await page.getByText(/Released/).first().waitFor();
  const arrived = await arrivedAtSink(sink, 'hostile-1@sender.test', 30_000);
  assert.ok(arrived);

  // The same hostile subject in the message trace (the held message and its released
  // copy): shown as text in the list and the detail.
  await page.goto(base + '/#/trace?address=mallory@sender.test');
  const traced = page.getByTestId('trace').getByText('Quarterly <img src=x onerror=alert(1)> report', { exact: true }).first();
  await traced.waitFor();
  await screenshot(page, '09b-trace-hostile');
  await traced.click();
  await page.getByRole('heading', { name: 'Quarterly <img src=x onerror=alert(1)> report' }).waitFor();
  await page.getByTestId('timeline').waitFor();
  assert.equal(await page.locator('img, script:not([src]), [onerror]').count(), 0, 'no markup from the message became part of the trace page');
  assert.deepEqual(dialogs, [], 'no script ran anywhere');
});

test('2FA enrolment, then signing in needs the TOTP code', async () => {
  await page.goto(base + '/#/account');
  await page.getByRole('button', { name: 'Set up two-factor authentication' }).click();
  const secret = (await page.getByTestId('totp-secret').innerText()).trim();
  await screenshot(page, '10-2fa-enrolment');
  const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' });
  await page.getByLabel('Code from the app').fill(totp.generate());
  await page.getByRole('button', { name: 'Turn on' }).click();
  await page.getByTestId('recovery-codes').waitFor();
  assert.equal(await page.getByTestId('recovery-codes').locator('li').count(), 10);
  await page.getByRole('button', { name: 'Done' }).click();

  await page.getByRole('button', { name: 'Sign out' }).click();
  await signIn('admin', NEW_PASSWORD);
  await page.getByLabel('Authentication code').waitFor();
  await screenshot(page, '11-login-totp');
  // The next step's code (accepted for clock drift): the enrolment code is used up.
  await page.getByLabel('Authentication code').fill(totp.generate({ timestamp: Date.now() + 30_000 }));
  await page.getByRole('button', { name: 'Verify' }).click();
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
});

test('every main page renders for the administrator (screenshots)', async () => {
  const pages: Array<[string, string, string]> = [
    ['dashboard', 'Dashboard', '12-dashboard'],
    ['queue', 'Queue', '13-queue'],
    ['users', 'Users', '14-users'],
    ['tokens', 'API tokens', '15-tokens'],
    ['audit', 'Audit log', '16-audit'],
    ['settings', 'Settings', '17-settings'],
  ];
  for (const [hash, heading, shot] of pages) {
    await page.goto(`${base}/#/${hash}`);
    await page.getByRole('heading', { name: heading, exact: true }).waitFor();
    await page.waitForLoadState('networkidle');
    await screenshot(page, shot);
  }
  // The audit log holds the changes made above, made through the console.
  await page.goto(`${base}/#/audit`);
  await page.getByTestId('audit').waitFor();
  const audit = await page.getByTestId('audit').innerText();
  assert.match(audit, /domain/i, audit);

  const phone = await (await newContext(browser, { width: 390, height: 844 })).newPage();
  await phone.goto(base + '/');
  await phone.getByLabel('User name').waitFor();
  await screenshot(phone, '18-phone-login');
  assert.deepEqual(dialogs, []);
});
