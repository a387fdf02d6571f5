// DNS blocklists against a local DNS server: the client IP (reversed octets, IPv6
// nibbles) and the registered domains of body links; listed, not listed, refused
// (127.255.255.x), lists that answer too late (skipped within the message's budget,
// reported), and refusal of a listed client in the session with the zone named.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import PostalMime from 'postal-mime';
import { DnsResolver } from '../../src/dns/resolver.ts';
import { SETTINGS_DEFAULTS, validateSetting, type Settings } from '../../src/config/settings.ts';
import { dnsListCheck } from '../../src/pipeline/filter/dnsbl/check.ts';
import { dnsblRejectStage, dnsblRejection } from '../../src/pipeline/filter/dnsbl/reject-stage.ts';
import { ipQueryPrefix } from '../../src/pipeline/filter/dnsbl/lookup.ts';
import { registeredDomain } from '../../src/pipeline/filter/dnsbl/uri-domains.ts';
import { answerMatches } from '../../src/pipeline/filter/dnsbl/zones.ts';
import { ScanContext } from '../../src/pipeline/filter/spam/context.ts';
import type { SpamInput } from '../../src/pipeline/filter/spam/types.ts';
import type { MessageContext } from '../../src/pipeline/context.ts';
import { startTestDns, type TestDns } from '../helpers/dns-server.ts';

let dns: TestDns;
let slowDns: TestDns;
let resolver: DnsResolver;
let slowResolver: DnsResolver;

before(async () => {
  dns = await startTestDns({
    // 192.0.2.99 is in ZEN's XBL and in SpamCop; 192.0.2.50 only in the PBL.
    '99.2.0.192.zen.spamhaus.org': { A: ['127.0.0.4'] },
    '99.2.0.192.bl.spamcop.net': { A: ['127.0.0.2'] },
    '50.2.0.192.zen.spamhaus.org': { A: ['127.0.0.10'] },
    // Through a public resolver Spamhaus answers 127.255.255.254: an error, not a listing.
    '77.2.0.192.zen.spamhaus.org': { A: ['127.255.255.254'] },
    [`${ipQueryPrefix('2001:db8::7')}.zen.spamhaus.org`]: { A: ['127.0.0.2'] },
    'spammy-shop.com.dbl.spamhaus.org': { A: ['127.0.1.2'] },
    'phish-bank.co.uk.dbl.spamhaus.org': { A: ['127.0.1.4'] },
    '99.2.0.192.slow.example.test': { A: ['127.0.0.2'] },
  });
  slowDns = await startTestDns({ '99.2.0.192.slow.example.test': { A: ['127.0.0.2'] } }, { delayMs: 4000 });
  resolver = new DnsResolver({ servers: [dns.server], timeoutMs: 2000 });
  slowResolver = new DnsResolver({ servers: [slowDns.server], timeoutMs: 8000 });
});

after(async () => {
  await dns.close();
  await slowDns.close();
});

const settings = (over: Partial<Settings> = {}): Settings => ({ ...SETTINGS_DEFAULTS, ...over });

async function input(clientIp: string, body: string): Promise<{ input: SpamInput; ctx: ScanContext }> {
  const raw = Buffer.from(`From: a@sender.example\r\nTo: b@ours.example\r\nSubject: hi\r\nContent-Type: text/html\r\n\r\n${body}\r\n`);
  const i: SpamInput = { raw, parsed: await PostalMime.parse(raw), envelope: { mailFrom: 'a@sender.example', rcptTo: ['b@ours.example'], clientIp }, localDomains: ['ours.example'] };
  return { input: i, ctx: new ScanContext(i) };
}

test('query names: reversed IPv4 octets, IPv6 nibbles, IPv4-mapped addresses as IPv4; registered domains by the Public Suffix List', () => {
  assert.equal(ipQueryPrefix('192.0.2.99'), '99.2.0.192');
  assert.equal(ipQueryPrefix('::ffff:192.0.2.99'), '99.2.0.192');
  assert.equal(ipQueryPrefix('2001:db8::7'), '7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2');
  assert.equal(registeredDomain('www.shop.spammy-shop.com'), 'spammy-shop.com');
  assert.equal(registeredDomain('login.phish-bank.co.uk.'), 'phish-bank.co.uk');
  assert.equal(registeredDomain('203.0.113.9'), null);
  assert.equal(registeredDomain('localhost'), null);
  // Return-code masks for lists that OR their reasons together; 127.255.255.x never counts.
  const multi = { zone: 'multi.example.org', symbol: 'M', weight: 1, mask: 6 };
  assert.equal(answerMatches(multi, '127.0.0.4'), true);
  assert.equal(answerMatches(multi, '127.0.0.8'), false);
  assert.equal(answerMatches({ zone: 'any.example.org', symbol: 'A', weight: 1 }, '127.0.0.9'), true);
  assert.equal(answerMatches({ zone: 'any.example.org', symbol: 'A', weight: 1 }, '127.255.255.254'), false);
});

test('a listed client gets the symbol and weight of each matching zone entry; an unlisted one gets nothing', async () => {
  const check = dnsListCheck({ lookup: resolver.a, settings: () => settings() });
  const listed = await input('192.0.2.99', '<p>hello</p>');
  const syms = await check.run(listed.input, listed.ctx);
  assert.deepEqual(syms.map((s) => [s.name, s.score]).sort(), [['RCVD_IN_SPAMCOP', 1.5], ['RCVD_IN_XBL', 3.5]]);
  assert.match(syms.find((s) => s.name === 'RCVD_IN_XBL')!.description, /192\.0\.2\.99 in zen\.spamhaus\.org \(127\.0\.0\.4\)/);

  const pbl = await input('192.0.2.50', '<p>hello</p>');
  assert.deepEqual((await check.run(pbl.input, pbl.ctx)).map((s) => s.name), ['RCVD_IN_PBL']);
  const clean = await input('192.0.2.1', '<p>hello</p>');
  assert.deepEqual(await check.run(clean.input, clean.ctx), []);
  const v6 = await input('2001:db8::7', '<p>hello</p>');
  assert.deepEqual((await check.run(v6.input, v6.ctx)).map((s) => s.name), ['RCVD_IN_SBL']);
});

test('127.255.255.x (the list refused the query) is not a listing: a zero-score DNSBL_BLOCKED symbol says so', async () => {
  const check = dnsListCheck({ lookup: resolver.a, settings: () => settings() });
  const m = await input('192.0.2.77', '<p>hello</p>');
  const syms = await check.run(m.input, m.ctx);
  assert.deepEqual(syms.map((s) => [s.name, s.score]), [['DNSBL_BLOCKED', 0]]);
  assert.match(syms[0]!.description, /zen\.spamhaus\.org \(127\.255\.255\.254\)/);
});

test('linked domains are looked up by registered domain, each once; our own domains and IP hosts are not', async () => {
  let asked: string[] = [];
  const lookup = (name: string) => {
    asked.push(name);
    return resolver.a(name);
  };
  const check = dnsListCheck({ lookup, settings: () => settings({ 'dnsbl.ipZones': [] }) });
  const m = await input(
    '192.0.2.1',
    '<a href="http://www.spammy-shop.com/buy">buy</a> <a href="https://shop.spammy-shop.com/x">again</a> ' +
      '<a href="https://login.phish-bank.co.uk/">your bank</a> <a href="http://portal.ours.example/">ours</a> <a href="http://203.0.113.9/">ip</a>',
  );
  const syms = await check.run(m.input, m.ctx);
  assert.deepEqual(syms.map((s) => [s.name, s.score]).sort(), [['URIBL_DBL_PHISH', 4.5], ['URIBL_DBL_SPAM', 3]]);
  assert.deepEqual(asked.sort(), ['phish-bank.co.uk.dbl.spamhaus.org', 'spammy-shop.com.dbl.spamhaus.org']);
  asked = [];
  const capped = dnsListCheck({ lookup, settings: () => settings({ 'dnsbl.ipZones': [], 'dnsbl.maxUriDomains': 1 }) });
  await capped.run(m.input, m.ctx);
  assert.equal(asked.length, 1);
});

test('a list that answers after the budget is skipped and reported; the others still count', async () => {
  const zones = [...SETTINGS_DEFAULTS['dnsbl.ipZones'], { zone: 'slow.example.test', symbol: 'RCVD_IN_SLOW', weight: 5 }];
  const lookup = (name: string) => (name.endsWith('.slow.example.test') ? slowResolver.a(name) : resolver.a(name));
  const check = dnsListCheck({ lookup, settings: () => settings({ 'dnsbl.ipZones': zones, 'dnsbl.budgetMs': 400 }) });
  const m = await input('192.0.2.99', '<p>hello</p>');
  const t0 = Date.now();
  const syms = await check.run(m.input, m.ctx);
  // The slow server answers after 4 s; the check returned at its budget, long before.
  assert.ok(Date.now() - t0 < 3500, `returned after ${Date.now() - t0} ms`);
  assert.deepEqual(syms.map((s) => s.name).sort(), ['DNSBL_TIMEOUT', 'RCVD_IN_SPAMCOP', 'RCVD_IN_XBL']);
  const t = syms.find((s) => s.name === 'DNSBL_TIMEOUT')!;
  assert.equal(t.score, 0);
  assert.match(t.description, /slow\.example\.test/);
});

test('dnsbl.enabled=false asks nothing', async () => {
  let asked = 0;
  const check = dnsListCheck({ lookup: (n) => (asked++, resolver.a(n)), settings: () => settings({ 'dnsbl.enabled': false }) });
  const m = await input('192.0.2.99', '<a href="http://spammy-shop.com/">x</a>');
  assert.deepEqual(await check.run(m.input, m.ctx), []);
  assert.equal(asked, 0);
});

function msgCtx(ip: string, trusted = false): MessageContext & { events: Array<{ type: string; detail: unknown }> } {
  const events: Array<{ type: string; detail: unknown }> = [];
  return {
    events,
    id: 'X',
    receivedAt: new Date(),
    client: { ip, helo: 'h', ptr: null, tls: null, trusted },
    direction: 'inbound',
    mailFrom: 'a@sender.example',
    recipients: [],
    original: Buffer.from(''),
    prepend: [],
    body: Buffer.from(''),
    reject: null,
    findings: {},
    log: undefined as never,
    trace: (type, detail) => events.push({ type, detail }),
  } as MessageContext & { events: Array<{ type: string; detail: unknown }> };
}

test('dnsbl.rejectZones refuses a listed client with 554 5.7.1 naming the zone, and lets others through', async () => {
  const s = settings({ 'dnsbl.rejectZones': ['zen.spamhaus.org'] });
  const stage = dnsblRejectStage({ lookup: resolver.a, settings: () => s });
  const listed = msgCtx('192.0.2.99');
  await stage.run(listed);
  assert.deepEqual(listed.reject, { code: 554, enhanced: '5.7.1', message: 'Service unavailable; client host [192.0.2.99] blocked using zen.spamhaus.org' });
  assert.equal(listed.events[0]!.type, 'dnsbl');

  for (const ip of ['192.0.2.1', '192.0.2.77']) {
    const c = msgCtx(ip);
    await stage.run(c);
    assert.equal(c.reject, null, ip);
  }
  const ours = msgCtx('192.0.2.99', true);
  await stage.run(ours);
  assert.equal(ours.reject, null, 'clients in the relay networks are never refused by a blocklist');

  // Only the zones named: SpamCop lists it too, but only SpamCop refuses here.
  const r = await dnsblRejection('192.0.2.99', settings({ 'dnsbl.rejectZones': ['bl.spamcop.net'] }), resolver.a);
  assert.match(r.reply!.message, /blocked using bl\.spamcop\.net/);
  assert.equal((await dnsblRejection('192.0.2.50', settings({ 'dnsbl.rejectZones': ['bl.spamcop.net'] }), resolver.a)).reply, null);
  assert.equal((await dnsblRejection('192.0.2.99', settings(), resolver.a)).reply, null, 'no reject zones: nothing refused');
});

test('zone settings are validated with precise errors', () => {
  assert.throws(() => validateSetting('dnsbl.ipZones', [{ zone: 'zen.spamhaus.org', symbol: 'x', weight: 1 }]), /symbol must be upper-case/);
  assert.throws(() => validateSetting('dnsbl.ipZones', [{ zone: 'not a zone', symbol: 'X', weight: 1 }]), /not a DNS zone/);
  assert.throws(() => validateSetting('dnsbl.uriZones', [{ zone: 'dbl.spamhaus.org', symbol: 'X', weight: 1, codes: ['10.0.0.1'] }]), /127\.x\.x\.x/);
  assert.throws(() => validateSetting('dnsbl.rejectZones', 'zen.spamhaus.org'), /list of zone names/);
  assert.throws(() => validateSetting('dnsbl.budgetMs', 10), /between 50 and 30000/);
  validateSetting('dnsbl.ipZones', [{ zone: 'multi.example.org', symbol: 'RCVD_IN_MULTI', weight: 2, mask: 6 }]);
  validateSetting('quarantine.retentionDays', 90);
  assert.throws(() => validateSetting('quarantine.retentionDays', 0), /between 1 and 3650/);
});
