// The console's filter pages in a real browser (Debian's Chromium through playwright-core)
// against a real gateway: for each page, an administrator does its main task through the
// UI and the result is checked through the REST API; then an auditor finds the pages read
// only and helpdesk does not find them at all. One browser for the whole file;
// screenshots of every page land in test-output/screenshots/.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { startApiGateway, PASSWORDS, USERNAMES, type ApiClient, type ApiGateway } from '../helpers/api.ts';
import { launchBrowser, newContext, screenshot } from '../helpers/browser.ts';

let api: ApiGateway;
let admin: ApiClient;
let browser: Browser;
let page: Page;
let base: string;
const dialogs: string[] = [];

before(async () => {
  api = await startApiGateway();
  admin = api.as('admin');
  base = api.baseUrl;
  browser = await launchBrowser();
  page = await signedIn(USERNAMES.admin, PASSWORDS.admin);
});

after(async () => {
  await browser?.close().catch(() => {});
  await api?.cleanup().catch(() => {});
});

async function signedIn(username: string, password: string, viewport?: { width: number; height: number }): Promise<Page> {
  const p = await (await newContext(browser, viewport)).newPage();
  // The pages ask before they delete; anything else popping up would be a script running.
  p.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.accept();
  });
  await p.goto(base + '/');
  await p.getByLabel('User name').fill(username);
  await p.getByLabel('Password').fill(password);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.getByRole('heading', { name: 'Dashboard' }).waitFor();
  return p;
}

async function open(hash: string, heading: string, p: Page = page): Promise<void> {
  await p.goto(`${base}/#/${hash}`);
  await p.getByRole('heading', { name: heading, exact: true }).waitFor();
}

const MESSAGE = ['From: Ann <ann@partner.example>', 'To: bob@example.com', 'Subject: Your invoice is overdue', '', 'Please pay today.', ''].join('\n');

test('filter policies: create one, edit it, assign it to a recipient, and the resolve check names it', async () => {
  await open('policies', 'Filter policies');
  const form = page.getByRole('form', { name: 'New filter policy' });
  await form.getByLabel('Name', { exact: true }).fill('strict');
  await form.getByLabel('Quarantine at score').fill('3');
  await form.getByLabel('Reject at score').fill('8');
  await form.getByRole('button', { name: 'Create policy' }).click();
  const row = page.getByTestId('policies').getByRole('row').filter({ hasText: 'strict' });
  await row.waitFor();
  await row.getByRole('button', { name: 'Edit' }).click();
  const edit = page.getByRole('form', { name: 'Edit policy strict' });
  await edit.getByLabel('Spam (at the quarantine level)').selectOption('discard');
  await edit.getByRole('button', { name: 'Save' }).click();
  await edit.waitFor({ state: 'detached' });
  await row.locator('.badge', { hasText: 'discard' }).waitFor();

  const assign = page.getByRole('form', { name: 'Assign a policy' });
  await assign.getByLabel('Recipient or domain').fill('ceo@example.com');
  await assign.getByLabel('Policy').selectOption('strict');
  await assign.getByRole('button', { name: 'Assign' }).click();
  await page.getByTestId('assignments').getByText('ceo@example.com').waitFor();
  const check = page.getByRole('form', { name: 'Which policy applies' });
  await check.getByLabel('Recipient address').fill('ceo@example.com');
  await check.getByRole('button', { name: 'Check' }).click();
  assert.match(await page.getByTestId('resolved').innerText(), /gets the policy strict/);
  await screenshot(page, '20-policies');

  const p = await admin.get('/api/v1/filter-policies/strict');
  assert.equal(p.status, 200, p.text);
  assert.deepEqual([p.json.quarantineScore, p.json.rejectScore, p.json.spamAction], [3, 8, 'discard']);
  assert.equal((await admin.get('/api/v1/filter-policies/resolve?address=ceo@example.com')).json.policy, 'strict');
  assert.equal((await admin.get('/api/v1/filter-policies/resolve?address=other@example.com')).json.policy, 'default');
});

test('allow and block lists: a blocked domain added in the console is on the block list', async () => {
  await open('lists', 'Allow and block lists');
  await page.getByText('No list entries').waitFor();
  await screenshot(page, '21-lists-empty');
  const form = page.getByRole('form', { name: 'Add a list entry' });
  await form.getByLabel('List').selectOption('block');
  await form.getByLabel('Sender').fill('junk.example');
  await form.getByLabel('Comment').fill('sends junk daily');
  await form.getByRole('button', { name: 'Add' }).click();
  await page.getByTestId('lists').getByText('junk.example').waitFor();
  await screenshot(page, '22-lists');
  const entries = (await admin.get('/api/v1/lists?list=block')).json.items as Array<{ value: string; kind: string; owner: string; comment: string }>;
  assert.deepEqual(
    entries.map((e) => [e.value, e.kind, e.owner, e.comment]),
    [['junk.example', 'domain', '', 'sends junk daily']],
  );
});

test('message rules: a rule tested on a message in the console, then saved, matches through the API', async () => {
  await open('rules', 'Message rules');
  const editor = page.getByRole('form', { name: 'Rule editor' });
  await editor.getByLabel('Rule name').fill('invoice-scam');
  await editor.getByRole('group', { name: 'Condition 1' }).getByLabel('Value').fill('invoice');
  await editor.getByLabel('Message', { exact: true }).fill(MESSAGE);
  await editor.getByRole('button', { name: 'Test rule' }).click();
  const result = page.getByTestId('rule-test-result');
  await result.getByText('The rule matches').waitFor();
  assert.match(await result.innerText(), /✓ header Subject contains "invoice"/);
  await editor.getByLabel('Message', { exact: true }).fill(MESSAGE.replace('invoice', 'parcel'));
  await editor.getByRole('button', { name: 'Test rule' }).click();
  await result.getByText('The rule does not match this message.').waitFor();
  await screenshot(page, '23-rules-test');
  await editor.getByRole('button', { name: 'Add rule' }).click();
  await page.getByTestId('rules').getByText('invoice-scam').waitFor();
  await screenshot(page, '24-rules');

  const rule = await admin.get('/api/v1/rules/invoice-scam');
  assert.equal(rule.status, 200, rule.text);
  assert.deepEqual(rule.json.conditions, [{ field: 'header', header: 'Subject', op: 'contains', value: 'invoice' }]);
  assert.deepEqual(rule.json.actions, [{ action: 'quarantine' }]);
  const t = await admin.post('/api/v1/rules/test', { name: 'invoice-scam', message: MESSAGE.replace(/\n/g, '\r\n') });
  assert.equal(t.json.matched, true, t.text);
});

test('file rules: a new set with one rule bans the attachment the test box is given', async () => {
  await open('filerules', 'File rules');
  const form = page.getByRole('form', { name: 'New rule set' });
  await form.getByLabel('Name').fill('strict');
  await form.getByLabel('Start from').selectOption('');
  await form.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('heading', { name: 'Rule set strict' }).waitFor();
  await page.getByText('No rules in this set').waitFor();
  const add = page.getByRole('form', { name: 'Add a file rule' });
  await add.getByLabel('Rule name').fill('no-iso');
  await add.getByLabel('Kind').selectOption('extension');
  await add.getByLabel('Values').fill('iso, img');
  await add.getByRole('button', { name: 'Add rule' }).click();
  await page.getByTestId('filerules').getByText('no-iso').waitFor();
  await page.getByRole('button', { name: 'Test', exact: true }).click();
  const result = page.getByTestId('filerule-test-result');
  await result.getByText('banned').waitFor();
  assert.match(await result.innerText(), /setup\.iso[\s\S]*banned[\s\S]*by no-iso/);
  await screenshot(page, '25-filerules');

  const set = await admin.get('/api/v1/filerules/strict');
  assert.deepEqual(
    set.json.rules.map((r: { name: string; values: string[]; action: string }) => [r.name, r.values, r.action]),
    [['no-iso', ['iso', 'img'], 'ban']],
  );
  await open('filerules', 'File rules');
  await page.getByTestId('filerule-sets').getByRole('link', { name: 'default' }).waitFor();
  await screenshot(page, '26-filerule-sets');
});

test('banners and disclaimers: a disclaimer template and rule made in the console show in the preview, and through the API', async () => {
  await open('body/disclaimer', 'Banners and disclaimers');
  await page.getByRole('button', { name: 'New template' }).click();
  const editor = page.getByRole('form', { name: 'Template editor' });
  await editor.getByLabel('Template name').fill('legal');
  await editor.getByLabel('Text version').fill('Confidential: for the addressee only.');
  await editor.getByRole('button', { name: 'Save template' }).click();
  await page.getByTestId('body-templates').getByText('legal').waitFor();
  const rule = page.getByRole('form', { name: 'Add a rule' });
  await rule.getByLabel('Applies to').selectOption('all');
  await rule.getByRole('button', { name: 'Add rule' }).click();
  await page.getByTestId('body-rules').getByText('all mail').waitFor();
  const preview = page.getByRole('form', { name: 'Preview' });
  await preview.getByRole('button', { name: 'Show preview' }).click();
  const shown = page.getByTestId('body-preview');
  await shown.getByText('The message would leave changed').waitFor();
  assert.match(await shown.innerText(), /Confidential: for the addressee only\./);
  await screenshot(page, '27-body-changes');

  const r = await admin.post('/api/v1/body-changes/preview', { message: MESSAGE, from: 'ann@example.com', to: ['bob@partner.example'], direction: 'outbound' });
  assert.equal(r.json.changed, true, r.text);
  assert.match(r.json.message, /Confidential: for the addressee only\./);
});

test('DKIM and ARC: make a key, see its DNS record, seal ARC with it, rotate, remove; each checked through the API', async () => {
  await open('dkim', 'DKIM and ARC');
  await page.getByText('No DKIM keys').waitFor();
  const form = page.getByRole('form', { name: 'Make a DKIM key' });
  await form.getByLabel('Domain').fill('example.com');
  await form.getByLabel('Selector').fill('k1');
  await form.getByLabel('Bits').selectOption('1024');
  await form.getByRole('button', { name: 'Make key' }).click();
  await page.getByText('Key k1 made for example.com').waitFor();
  const card = page.getByTestId('dkim-example.com');
  const record = await card.getByLabel('DNS record of k1').innerText();
  const key = ((await admin.get('/api/v1/dkim?domain=example.com')).json.items as Array<{ selector: string; status: string; zoneLine: string }>).find((k) => k.selector === 'k1');
  assert.equal(key?.status, 'active');
  assert.equal(record, key.zoneLine, 'the console shows the record to publish');
  assert.match(record, /^k1\._domainkey\.example\.com\. IN TXT \( "v=DKIM1; k=rsa; p=/);

  const arc = page.getByRole('region', { name: 'ARC sealing' });
  await arc.getByRole('button', { name: 'Start sealing' }).click();
  await arc.getByText('Relayed mail is sealed as d=example.com s=k1.').waitFor();
  assert.deepEqual(await (await admin.get('/api/v1/arc')).json, { enabled: true, domain: 'example.com', selector: 'k1' });
  await screenshot(page, '28-dkim');

  await card.getByRole('button', { name: 'Rotate now' }).click();
  await page.getByText('Rotated example.com').waitFor();
  const keys = (await admin.get('/api/v1/dkim?domain=example.com')).json.items as Array<{ selector: string; status: string; algorithm: string }>;
  assert.equal(keys.find((k) => k.selector === 'k1')?.status, 'retiring', JSON.stringify(keys));
  const next = keys.find((k) => k.status === 'active');
  assert.ok(next && next.selector !== 'k1' && next.algorithm === 'rsa-sha256', `a new RSA key signs: ${JSON.stringify(keys)}`);
  await card.getByText(next.selector, { exact: true }).waitFor();

  await arc.getByRole('button', { name: 'Stop sealing' }).click();
  await arc.getByText('Relayed mail is not sealed.').waitFor();
  assert.equal((await admin.get('/api/v1/arc')).json.enabled, false);
  // The row whose selector is k1 (a key's base64 record can contain "k1" too).
  await card.getByRole('row').filter({ has: page.getByText('k1', { exact: true }) }).getByRole('button', { name: 'Remove' }).click();
  await page.getByText('Removed k1.').waitFor();
  const left = (await admin.get('/api/v1/dkim?domain=example.com')).json.items as Array<{ selector: string }>;
  assert.deepEqual(left.map((k) => k.selector), [next.selector]);
  await screenshot(page, '29-dkim-rotated');
});

test('blocklists and Bayes: the refusing zones set and a message learned in the console are in the API', async () => {
  await open('spam', 'Blocklists and Bayes');
  await page.getByTestId('dnsbl-state').waitFor();
  const zones = page.getByRole('form', { name: 'Zones that refuse' });
  await zones.getByLabel('Refuse clients listed in').fill('zen.spamhaus.org');
  await zones.getByRole('button', { name: 'Save' }).click();
  await page.getByTestId('dnsbl-zones').getByText('refuses the client').first().waitFor();
  assert.deepEqual((await admin.get('/api/v1/dnsbl')).json.rejectZones, ['zen.spamhaus.org']);

  await page.getByText('Not scoring yet').waitFor();
  const teach = page.getByRole('form', { name: 'Teach Bayes' });
  await teach.getByLabel('Message').fill(MESSAGE);
  await teach.getByLabel('Learn as').selectOption('spam');
  await teach.getByRole('button', { name: 'Learn' }).click();
  await page.getByText('Outcome: learned.').waitFor();
  // The statistics load again after learning: one spam message.
  await page.getByTestId('bayes-stats').locator('.num').first().getByText('1', { exact: true }).waitFor();
  await screenshot(page, '30-blocklists-bayes');
  assert.equal((await admin.get('/api/v1/bayes')).json.spamMessages, 1);
});

test('an auditor sees the filter pages read only; helpdesk does not see them at all', async () => {
  const auditor = await signedIn(USERNAMES.auditor, PASSWORDS.auditor);
  await open('policies', 'Filter policies', auditor);
  await auditor.getByText('Read only: your role can see filter policies').waitFor();
  await auditor.getByTestId('policies').getByText('strict').waitFor();
  assert.equal(await auditor.getByRole('form', { name: 'New filter policy' }).count(), 0, 'no create form');
  assert.equal(await auditor.getByRole('button', { name: 'Edit' }).count(), 0, 'no edit buttons');
  await screenshot(auditor, '31-auditor-policies');
  await open('rules', 'Message rules', auditor);
  await auditor.getByTestId('rules').getByText('invoice-scam').waitFor();
  assert.equal(await auditor.getByRole('button', { name: /Add rule|Delete|Turn off/ }).count(), 0, 'no changing buttons');
  // Testing changes nothing: an auditor may try a rule on a message.
  await auditor.getByRole('form', { name: 'Rule editor' }).getByRole('button', { name: 'Test rule' }).waitFor();
  await open('dkim', 'DKIM and ARC', auditor);
  assert.equal(await auditor.getByRole('form', { name: 'Make a DKIM key' }).count(), 0);
  assert.equal(await auditor.getByRole('button', { name: /Rotate now|Remove|Start sealing|Stop sealing/ }).count(), 0);
  await auditor.context().close();

  const helpdesk = await signedIn(USERNAMES.helpdesk, PASSWORDS.helpdesk);
  const nav = helpdesk.getByRole('navigation', { name: 'Main' });
  assert.deepEqual(await nav.getByRole('listitem').getByRole('link').allInnerTexts(), ['Dashboard', 'Quarantine', 'Message trace']);
  await helpdesk.goto(`${base}/#/policies`);
  await helpdesk.getByRole('heading', { name: 'Not for your role' }).waitFor();
  await screenshot(helpdesk, '32-helpdesk-no-filter-pages');
  await helpdesk.context().close();

  const phone = await signedIn(USERNAMES.admin, PASSWORDS.admin, { width: 390, height: 844 });
  await open('rules', 'Message rules', phone);
  await screenshot(phone, '33-phone-rules');
  await phone.context().close();
  assert.ok(dialogs.every((d) => /^(Delete|Remove|Stop|Put)/.test(d)), `only the pages' own confirmations: ${JSON.stringify(dialogs)}`);
});
