// Refusing a blocklisted client at its first RCPT: one lookup per SMTP session, the
// answer kept for its other recipients; nothing refused when the lists are off or do not
// answer (the DATA-time stage is then the fallback).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SETTINGS_DEFAULTS, type Settings } from '../../src/config/settings.ts';
import { ipQueryPrefix } from '../../src/pipeline/filter/dnsbl/lookup.ts';
import { SessionDnsblCheck } from '../../src/smtp/dnsbl-at-rcpt.ts';

const settings = (over: Partial<Settings> = {}): Settings => ({ ...SETTINGS_DEFAULTS, 'dnsbl.enabled': true, ...over });
const REJECT = { 'dnsbl.rejectZones': ['zen.spamhaus.org'] };

/** A lookup answering from a table, counting its queries. */
function table(listed: Record<string, string[]>) {
  const queries: string[] = [];
  const lookup = async (name: string) => {
    queries.push(name);
    if (name in listed) return listed[name]!;
    throw Object.assign(new Error(`queryA ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
  };
  return { lookup, queries };
}

test('a listed client is refused (554 5.7.1 naming the zone) at every RCPT of its session after one lookup', async () => {
  const dns = table({ [`${ipQueryPrefix('192.0.2.99')}.zen.spamhaus.org`]: ['127.0.0.4'] });
  const check = new SessionDnsblCheck('192.0.2.99', dns.lookup);
  const first = await check.refusal(settings(REJECT));
  assert.deepEqual(first && [first.code, first.enhanced], [554, '5.7.1']);
  assert.match(first!.message, /client host \[192\.0\.2\.99\] blocked using zen\.spamhaus\.org/);
  assert.deepEqual(await check.refusal(settings(REJECT)), first);
  assert.deepEqual(await check.refusal(settings(REJECT)), first);
  assert.equal(dns.queries.length, 1, 'one lookup for the whole session');
});

test('not listed, lists off, no reject zones, or no answer: nothing refused at RCPT', async () => {
  const dns = table({});
  const clean = new SessionDnsblCheck('192.0.2.1', dns.lookup);
  assert.equal(await clean.refusal(settings(REJECT)), null);
  assert.equal(await clean.refusal(settings(REJECT)), null);
  assert.equal(dns.queries.length, 1, 'the negative answer is kept too');

  const idle = table({ [`${ipQueryPrefix('192.0.2.99')}.zen.spamhaus.org`]: ['127.0.0.4'] });
  assert.equal(await new SessionDnsblCheck('192.0.2.99', idle.lookup).refusal(settings()), null);
  assert.equal(await new SessionDnsblCheck('192.0.2.99', idle.lookup).refusal(settings({ ...REJECT, 'dnsbl.enabled': false })), null);
  assert.deepEqual(idle.queries, [], 'no lookups without reject zones');

  const broken = new SessionDnsblCheck('192.0.2.99', async () => {
    throw Object.assign(new Error('queryA ETIMEOUT'), { code: 'ETIMEOUT' });
  });
  assert.equal(await broken.refusal(settings(REJECT)), null, 'a list that does not answer refuses nobody here');
});
