// The per-client counters the cluster primary keeps (smtp/client-counters.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientCounters, clientKey } from '../../src/smtp/client-counters.ts';

test('clientKey: an IPv4 address is its own client; IPv6 counts per /64', () => {
  assert.equal(clientKey('192.0.2.7'), '192.0.2.7', 'IPv4 as is');
  assert.equal(clientKey('2001:db8:1:2::5'), '2001:db8:1:2::/64', 'IPv6 /64');
  assert.equal(clientKey('2001:0db8:0001:0002:ffff:0:0:1'), '2001:db8:1:2::/64', 'the same /64 written out');
  assert.equal(clientKey('2001:db8:1:3::5'), '2001:db8:1:3::/64', 'the next /64 is another client');
  assert.equal(clientKey('::1'), '0:0:0:0::/64', 'loopback');
});

test('concurrent connections: counted across owners, released on disconnect and when an owner ends', () => {
  const c = new ClientCounters();
  const lim = { concurrent: 2, perMinute: 0 };
  assert.ok(c.connect('w1', 'a', 'k', lim).ok, 'first');
  assert.ok(c.connect('w2', 'b', 'k', lim).ok, 'second, on another worker');
  assert.deepEqual(c.connect('w1', 'c', 'k', lim), { ok: false, limit: 'concurrent', max: 2 }, 'third refused');
  assert.ok(c.connect('w1', 'd', 'other', lim).ok, 'another client is not affected');
  c.disconnect('w1', 'c');
  assert.equal(c.openCount('k'), 2, 'disconnecting a refused connection changes nothing');
  c.disconnect('w1', 'a');
  assert.ok(c.connect('w1', 'e', 'k', lim).ok, 'room again after a disconnect');
  c.dropOwner('w2');
  assert.equal(c.openCount('k'), 1, 'a dead worker takes its connections with it');
  assert.equal(c.openCount('other'), 1, 'and only its own');
});

test('connection and message rates: fixed number per window, then refused until the window moves', () => {
  const c = new ClientCounters();
  const lim = { concurrent: 0, perMinute: 2 };
  const t0 = 1_000_000;
  assert.ok(c.connect('w', '1', 'k', lim, t0).ok, 'first');
  c.disconnect('w', '1');
  assert.ok(c.connect('w', '2', 'k', lim, t0 + 1000).ok, 'second');
  c.disconnect('w', '2');
  assert.deepEqual(c.connect('w', '3', 'k', lim, t0 + 2000), { ok: false, limit: 'connection-rate', max: 2 }, 'third within the minute');
  assert.ok(c.connect('w', '4', 'k', lim, t0 + 60_001).ok, 'the first left the window');
  assert.ok(c.message('k', 1, t0).ok, 'first message');
  assert.equal(c.message('k', 1, t0 + 10).ok, false, 'second message in the hour');
  assert.ok(c.message('k', 0, t0 + 10).ok, '0 = no limit');
});
