import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PolicySnapshot } from '../../src/smtp/relay-policy.ts';
import { NetworkSet, parseCidr } from '../../src/smtp/cidr.ts';
import { SETTINGS_DEFAULTS } from '../../src/config/settings.ts';
import type { RelayDomainRow } from '../../src/db/schema.ts';
import { parseNextHop, parseRoute, formatRoute } from '../../src/delivery/route.ts';

function snapshot(opts: { smarthost?: string } = {}) {
  const domains = new Map<string, RelayDomainRow>([
    ['example.com', { domain: 'example.com', next_hop: '10.0.0.5:2525', require_tls: 1, recipient_mode: 'any', created_at: 0 }],
    ['strict.example', { domain: 'strict.example', next_hop: null, require_tls: 0, recipient_mode: 'specified', created_at: 0 }],
    ['wild.example', { domain: 'wild.example', next_hop: null, require_tls: 0, recipient_mode: 'specified', created_at: 0 }],
  ]);
  return new PolicySnapshot(1, domains, new Set(['alice@strict.example', '*@wild.example']), new NetworkSet(['10.1.0.0/16', '2001:db8::/32']), {
    ...SETTINGS_DEFAULTS,
    'delivery.smarthost': opts.smarthost ?? null,
  });
}

test('relay domain with next hop: accepted from anywhere, routed to the next hop with its TLS requirement', () => {
  const d = snapshot().decideRecipient('203.0.113.9', 'Bob@Example.COM');
  assert.deepEqual(d, { ok: true, route: 'host:10.0.0.5:2525', requireTls: true, inbound: true });
});

test('SPECIFIED domain: listed address and *@domain accepted, others 550 5.1.1', () => {
  const s = snapshot();
  assert.equal(s.decideRecipient('203.0.113.9', 'alice@strict.example').ok, true);
  assert.equal(s.decideRecipient('203.0.113.9', 'anyone@wild.example').ok, true);
  const no = s.decideRecipient('203.0.113.9', 'eve@strict.example');
  assert.equal(no.ok, false);
  if (!no.ok) assert.deepEqual([no.code, no.enhanced], [550, '5.1.1']);
});

test('never an open relay: external domain from outside is 554 5.7.1, from a relay network it is routed by MX or smarthost', () => {
  const s = snapshot();
  const no = s.decideRecipient('203.0.113.9', 'x@gmail.test');
  assert.equal(no.ok, false);
  if (!no.ok) assert.deepEqual([no.code, no.enhanced], [554, '5.7.1']);
  assert.deepEqual(s.decideRecipient('10.1.2.3', 'x@gmail.test'), { ok: true, route: 'mx:gmail.test', requireTls: false, inbound: false });
  assert.deepEqual(s.decideRecipient('::ffff:10.1.2.3', 'x@gmail.test').ok, true, 'IPv4-mapped client address');
  assert.deepEqual(s.decideRecipient('2001:db8::1', 'x@gmail.test').ok, true, 'IPv6 relay network');
  assert.equal(s.decideRecipient('10.2.0.1', 'x@gmail.test').ok, false);
  const viaSmarthost = snapshot({ smarthost: '[192.0.2.1]:587' }).decideRecipient('10.1.2.3', 'x@gmail.test');
  assert.deepEqual(viaSmarthost, { ok: true, route: 'host:192.0.2.1:587', requireTls: false, inbound: false });
});

test('a subdomain of a relay domain is not a relay domain', () => {
  assert.equal(snapshot().decideRecipient('203.0.113.9', 'x@sub.example.com').ok, false);
});

test('CIDR parsing rejects nonsense with a clear message', () => {
  assert.equal(parseCidr('10.0.0.0/8').canonical, '10.0.0.0/8');
  assert.equal(parseCidr('192.0.2.7').canonical, '192.0.2.7/32');
  assert.throws(() => parseCidr('10.0.0.0/33'), /prefix/);
  assert.throws(() => parseCidr('not-an-ip'), /invalid network/);
  assert.throws(() => parseCidr('10.0.0.0/8x'), /prefix/);
});

test('next hops and routes round-trip', () => {
  assert.deepEqual(parseNextHop('mail.example.com'), { host: 'mail.example.com', port: 25 });
  assert.deepEqual(parseNextHop('[::1]:2525'), { host: '::1', port: 2525 });
  assert.throws(() => parseNextHop('host:99999'), /port/);
  assert.throws(() => parseNextHop('::1:25'), /IPv6/);
  for (const r of ['mx:example.com', 'host:10.0.0.1:25', 'host:[::1]:2525']) assert.equal(formatRoute(parseRoute(r)), r);
});

test('sender-specified routing to a relay domain from outside is 554 5.7.1 (percent hack, bang path, quoted "@"), unless allowed', () => {
  const s = snapshot();
  for (const rcpt of ['user%other.example@example.com', 'other.example!user@example.com', '"user@other.example"@example.com', 'a!b%c@strict.example']) {
    const d = s.decideRecipient('203.0.113.9', rcpt);
    assert.equal(d.ok, false, rcpt);
    if (!d.ok) assert.deepEqual([d.code, d.enhanced], [554, '5.7.1'], rcpt);
  }
  assert.equal(s.decideRecipient('203.0.113.9', 'first.last+tag@example.com').ok, true, 'ordinary local parts pass');
  assert.equal(s.decideRecipient('10.1.2.3', 'user%other.example@example.com').ok, true, 'our own networks may relay anyway');
  const allowing = new PolicySnapshot(1, s.domains, s.recipients, s.networks, { ...s.settings, 'smtp.allowRoutedAddresses': true });
  assert.equal(allowing.decideRecipient('203.0.113.9', 'user%other.example@example.com').ok, true, 'smtp.allowRoutedAddresses');
});
