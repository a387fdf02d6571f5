// Body-change rules as data: templates checked when saved, which rule applies to which
// sender or recipient domain (most specific first), exemptions, internal mail, groups,
// per-sender signature fields with an inline image, changes seen at once through the
// configuration serial, and the trace when a message cannot be read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import PostalMime from 'postal-mime';
import type { Db } from '../../src/db/database.ts';
import { configSerial } from '../../src/config/settings.ts';
import { upsertRelayDomain } from '../../src/db/repos/relay-policy.ts';
import {
  addExemption,
  addGroupMember,
  loadBodyConfig,
  removeTemplate,
  saveRule,
  saveTemplate,
  setRuleEnabled,
  setSenderFields,
} from '../../src/db/repos/body-changes.ts';
import { BodyConfigStore, buildBodyConfig } from '../../src/pipeline/modify/body-config.ts';
import { applyBodyChanges, type ApplyInput } from '../../src/pipeline/modify/apply-changes.ts';
import { withDb } from '../helpers/temp-db.ts';

const msg = (from: string, body = 'Hello') => Buffer.from(`From: Some One <${from}>\r\nTo: x@y.test\r\nSubject: s\r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\n\r\n${body}\r\n`);

function input(over: Partial<ApplyInput> & { message: Buffer }): ApplyInput {
  return {
    fromOurNetwork: true,
    clientIp: '10.0.0.5',
    envelopeSender: 'bounce@corp.test',
    recipients: ['partner@outside.test'],
    relayDomains: new Set(['corp.test', 'sub.corp.test']),
    receivedAt: new Date('2026-11-21T10:00:00Z'),
    ...over,
  };
}

async function run(db: Db, over: Partial<ApplyInput> & { message: Buffer }) {
  return applyBodyChanges(buildBodyConfig(await loadBodyConfig(db)), input(over));
}

test('templates are checked when saved: unknown placeholders, images the template lacks, a kind that does not match', async () => {
  await withDb(async (db) => {
    await assert.rejects(saveTemplate(db, { name: 't1', kind: 'disclaimer', text: 'Sent by {{sender.adress}}' }), /\{\{sender\.adress\}\} is not a known placeholder/);
    await assert.rejects(saveTemplate(db, { name: 't1', kind: 'signature', html: '<img src="{{image.logo}}">' }), /the template has no image "logo"/);
    await assert.rejects(saveTemplate(db, { name: 't1', kind: 'signature', text: '{{image.logo}}' }), /images only work in the HTML template/);
    await assert.rejects(saveTemplate(db, { name: 't1', kind: 'footer', text: 'x' }), /not banner, disclaimer or signature/);
    await saveTemplate(db, { name: 't1', kind: 'disclaimer', text: 'ok' });
    await assert.rejects(saveTemplate(db, { name: 't1', kind: 'banner', text: 'ok' }), /is a disclaimer template, not a banner one/);
    await assert.rejects(saveRule(db, { kind: 'banner', template: 't1', scope: 'all' }), /is a disclaimer template/);
    await assert.rejects(saveRule(db, { kind: 'disclaimer', template: 't1', scope: 'relay-domain', value: 'corp.test' }), /applies per domain, address, group, all/);
    await saveTemplate(db, { name: 'b1', kind: 'banner', text: 'ext' });
    await assert.rejects(saveRule(db, { kind: 'banner', template: 'b1', scope: 'relay-domain', value: 'corp.test' }), /not a relay domain/);
    await saveRule(db, { kind: 'disclaimer', template: 't1', scope: 'all' });
    await assert.rejects(removeTemplate(db, 't1'), /used by 1 rule/);
  });
});

test('disclaimers: sender address before group before domain (and its subdomains) before all; internal mail only with --internal', async () => {
  await withDb(async (db) => {
    for (const n of ['all', 'dom', 'grp', 'addr']) await saveTemplate(db, { name: n, kind: 'disclaimer', text: `disclaimer ${n}` });
    await saveRule(db, { kind: 'disclaimer', template: 'all', scope: 'all' });
    await saveRule(db, { kind: 'disclaimer', template: 'dom', scope: 'domain', value: 'corp.test' });
    await saveRule(db, { kind: 'disclaimer', template: 'grp', scope: 'group', value: 'legal' });
    await saveRule(db, { kind: 'disclaimer', template: 'addr', scope: 'address', value: 'ceo@corp.test' });
    await addGroupMember(db, 'legal', 'lawyer@corp.test');
    const chosen = async (from: string) => ((await run(db, { message: msg(from) })).trace!.disclaimer as { template?: string }).template;
    assert.equal(await chosen('ceo@corp.test'), 'addr');
    assert.equal(await chosen('lawyer@corp.test'), 'grp');
    assert.equal(await chosen('someone@sub.corp.test'), 'dom');
    assert.equal(await chosen('x@other.test'), 'all');
    await addGroupMember(db, 'legal', '*@sub.corp.test');
    assert.equal(await chosen('someone@sub.corp.test'), 'grp');

    const internal = await run(db, { message: msg('x@corp.test'), recipients: ['y@corp.test'] });
    assert.equal(internal.changed, false);
    assert.match(String((internal.trace!.disclaimer as { skipped: string }).skipped), /internal mail/);
    await saveRule(db, { kind: 'disclaimer', template: 'dom', scope: 'domain', value: 'corp.test', internal: true });
    const nowInternal = await run(db, { message: msg('x@corp.test'), recipients: ['y@corp.test'] });
    assert.equal(nowInternal.changed, true);
    assert.match(nowInternal.message.toString(), /Hello\r\n\r\ndisclaimer dom\r\n$/);

    const inbound = await run(db, { message: msg('x@corp.test'), fromOurNetwork: false });
    assert.deepEqual(inbound.trace, { disclaimer: { skipped: 'inbound mail gets no disclaimer' } });
  });
});

test('banners: off by default, per recipient relay domain, exemptions by sender address, domain and client network', async () => {
  await withDb(async (db) => {
    await upsertRelayDomain(db, { domain: 'corp.test' });
    await upsertRelayDomain(db, { domain: 'other.test' });
    const inbound = (from: string, over: Partial<ApplyInput> = {}) => run(db, { message: msg(from), fromOurNetwork: false, clientIp: '198.51.100.7', recipients: ['alice@corp.test'], ...over });
    assert.equal((await inbound('eve@evil.test')).trace, null, 'no rules: nothing happens, nothing is traced');

    await saveTemplate(db, { name: 'ext', kind: 'banner', text: 'External: {{sender.name}} <{{sender.address}}> on {{date}}' });
    await saveRule(db, { kind: 'banner', template: 'ext', scope: 'relay-domain', value: 'corp.test' });
    const r = await inbound('eve@evil.test');
    assert.equal(r.changed, true);
    assert.match(r.message.toString(), /\r\n\r\nExternal: Some One <eve@evil\.test> on Sat, 21 Nov 2026 10:00:00 \+0000\r\n\r\nHello\r\n$/);
    assert.deepEqual(r.trace!.banner, { rule: 1, scope: 'relay-domain corp.test', template: 'ext', parts: ['TEXT text/plain (us-ascii (undeclared), 7bit)'] });

    const otherDomain = await inbound('eve@evil.test', { recipients: ['bob@other.test'] });
    assert.deepEqual(otherDomain.trace!.banner, { skipped: 'no banner rule for the recipient domain(s) other.test' });

    await addExemption(db, 'banner', 'address', 'Partner@Friends.test');
    await addExemption(db, 'banner', 'domain', 'trusted.test');
    await addExemption(db, 'banner', 'network', '198.51.100.0/24');
    assert.deepEqual((await inbound('partner@friends.test', { clientIp: '192.0.2.1' })).trace!.banner, { skipped: 'sender partner@friends.test is exempt' });
    assert.deepEqual((await inbound('a@mail.trusted.test', { clientIp: '192.0.2.1' })).trace!.banner, { skipped: 'sender domain trusted.test is exempt' });
    assert.deepEqual((await inbound('eve@evil.test')).trace!.banner, { skipped: 'client 198.51.100.7 is in an exempt network' });
    assert.equal((await inbound('eve@evil.test', { clientIp: '192.0.2.1' })).changed, true);

    await setRuleEnabled(db, 'banner', 1, false);
    assert.equal((await inbound('eve@evil.test', { clientIp: '192.0.2.1' })).trace, null);
  });
});

test('banners on mail from our own networks: traced as skipped only when a banner rule would have matched a recipient', async () => {
  await withDb(async (db) => {
    await upsertRelayDomain(db, { domain: 'corp.test' });
    await saveTemplate(db, { name: 'ext', kind: 'banner', text: 'External sender' });
    await saveRule(db, { kind: 'banner', template: 'ext', scope: 'relay-domain', value: 'corp.test' });
    const outbound = (recipients: string[]) => run(db, { message: msg('alice@corp.test'), recipients });

    const toPartner = await outbound(['partner@outside.test']);
    assert.equal(toPartner.changed, false);
    assert.equal(toPartner.trace, null, 'no banner rule for outside.test: nothing to say');
    const toColleague = await outbound(['partner@outside.test', 'bob@corp.test']);
    assert.equal(toColleague.changed, false);
    assert.deepEqual(toColleague.trace, { banner: { skipped: 'mail from our own networks gets no external-sender banner' } });

    await saveTemplate(db, { name: 'all', kind: 'banner', text: 'External' });
    await saveRule(db, { kind: 'banner', template: 'all', scope: 'all' });
    assert.deepEqual((await outbound(['partner@outside.test'])).trace, { banner: { skipped: 'mail from our own networks gets no external-sender banner' } }, 'a rule for all recipients matches');
  });
});

test('signatures: per-sender fields fill the template, the logo goes in as a CID image of a multipart/related', async () => {
  await withDb(async (db) => {
    const png = Buffer.from('89504e470d0a1a0a', 'hex');
    await saveTemplate(db, {
      name: 'std',
      kind: 'signature',
      text: '-- \n{{user.name}}\n{{user.title}} | {{user.phone}}',
      html: '<p>{{user.name}}<br>{{user.title}}</p><img src="{{image.logo}}" alt="Corp">',
      images: [{ name: 'logo', contentType: 'image/png', filename: 'logo.png', data: png }],
    });
    await saveRule(db, { kind: 'signature', template: 'std', scope: 'domain', value: 'corp.test' });
    await setSenderFields(db, 'alice@corp.test', { name: 'Alice <Admin>', title: 'CFO', phone: '+1 555 0100' });
    const html = Buffer.from(
      'From: Alice <alice@corp.test>\r\nTo: p@outside.test\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n--a\r\nContent-Type: text/plain\r\n\r\nHi\r\n--a\r\nContent-Type: text/html\r\n\r\n<html><body>Hi</body></html>\r\n--a--\r\n',
    );
    const r = await run(db, { message: html });
    assert.equal(r.changed, true);
    const p = await PostalMime.parse(r.message);
    assert.equal(p.text!.trim(), 'Hi\n\n-- \nAlice <Admin>\nCFO | +1 555 0100');
    const cid = /src="cid:([^"]+)"/.exec(p.html!)![1]!;
    assert.match(p.html!, /<p>Alice &lt;Admin&gt;<br>CFO<\/p><img src="cid:logo\.[0-9a-f]+@hermes" alt="Corp">/);
    assert.equal(p.attachments.length, 1);
    assert.equal(p.attachments[0]!.contentId, `<${cid}>`);
    assert.deepEqual(Buffer.from(p.attachments[0]!.content as ArrayBuffer), png);
    assert.match(String((r.trace!.signature as { parts: string[] }).parts[1]), /2 text\/html .*1 inline image/);
  });
});

test('a change in the database is used at the next message (the configuration serial moves)', async () => {
  await withDb(async (db) => {
    let serial = await configSerial(db);
    const store = new BodyConfigStore(db, () => serial);
    assert.equal((await store.current()).active, false);
    await saveTemplate(db, { name: 'd', kind: 'disclaimer', text: 'x' });
    await saveRule(db, { kind: 'disclaimer', template: 'd', scope: 'all' });
    assert.equal((await store.current()).active, false, 'same serial: the cached configuration');
    serial = await configSerial(db);
    assert.equal((await store.current()).active, true);
  });
});

test('a message the MIME splitter refuses goes on unchanged, and the trace says it could not be parsed', async () => {
  await withDb(async (db) => {
    await saveTemplate(db, { name: 'd', kind: 'disclaimer', text: 'x' });
    await saveRule(db, { kind: 'disclaimer', template: 'd', scope: 'all' });
    const parts = Array.from({ length: 2100 }, (_, i) => `--b\r\nContent-Type: text/plain\r\n\r\npart ${i}\r\n`).join('');
    const huge = Buffer.from(`From: a@corp.test\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n${parts}--b--\r\n`);
    const r = await run(db, { message: huge });
    assert.equal(r.changed, false);
    assert.equal(r.message, huge);
    assert.match(String((r.trace!.disclaimer as { skipped: string }).skipped), /^parse failure, the message goes on unchanged: /);
  });
});
