import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as dnsPromises } from 'node:dns';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';

import { DnsResolver, reverseName } from '../../src/dns/resolver.ts';
import { startTestDns, type TestDns } from '../helpers/dns-server.ts';

// A DKIM-sized value: far over the 255-byte limit of one TXT character-string.
const DKIM_KEY = `v=DKIM1; k=rsa; p=${'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA'.repeat(14)}IDAQAB`;

function zone() {
  return {
    'example.test': {
      A: ['192.0.2.1', '192.0.2.2'],
      AAAA: ['2001:db8::1', '::ffff:192.0.2.9'],
      MX: [
        { exchange: 'mx-b.example.test', priority: 20 },
        { exchange: 'mx-a.example.test', priority: 10 },
        { exchange: 'mx-c.example.test', priority: 30 },
        { exchange: 'mx-a2.example.test', priority: 10 },
      ],
      TXT: ['v=spf1 -all', ['part one ', 'part two']],
    },
    'sel._domainkey.example.test': { TXT: [DKIM_KEY] },
    'big.example.test': { TXT: Array.from({ length: 8 }, (_, i) => `record ${i} ${'x'.repeat(390)}`) },
    'alias.example.test': { CNAME: 'example.test' },
    '1.2.0.192.in-addr.arpa': { PTR: ['host.example.test'] },
    [reverseName('2001:db8::1')]: { PTR: ['v6.example.test'] },
    'only-mx.example.test': { MX: [{ exchange: 'mx.example.test', priority: 5 }] },
  };
}

describe('DnsResolver against a local authoritative server', () => {
  let dns: TestDns;

  before(async () => {
    dns = await startTestDns(zone());
  });
  after(async () => {
    await dns.close();
  });

  const make = (opts: ConstructorParameters<typeof DnsResolver>[0] = {}) =>
    new DnsResolver({ servers: [dns.server], timeoutMs: 2000, ...opts });

  it('listens on UDP and TCP on one loopback port', () => {
    assert.equal(dns.address, '127.0.0.1');
    assert.equal(dns.server, `127.0.0.1:${dns.port}`);
  });

  it('returns MX records sorted by priority, stable for ties', async () => {
    const mx = await make().mx('example.test');
    assert.deepEqual(mx, [
      { exchange: 'mx-a.example.test', priority: 10 },
      { exchange: 'mx-a2.example.test', priority: 10 },
      { exchange: 'mx-b.example.test', priority: 20 },
      { exchange: 'mx-c.example.test', priority: 30 },
    ]);
  });

  it('resolves A and AAAA, case-insensitively and with a trailing dot', async () => {
    const r = make();
    assert.deepEqual((await r.a('Example.TEST.')).sort(), ['192.0.2.1', '192.0.2.2']);
    assert.deepEqual(await r.aaaa('example.test'), ['2001:db8::1', '::ffff:192.0.2.9']);
    assert.deepEqual((await r.a('alias.example.test')).sort(), ['192.0.2.1', '192.0.2.2'], 'CNAME followed');
  });

  it('returns TXT character-strings that join to the full >255-byte value', async () => {
    const r = make();
    const [rec, ...rest] = await r.txt('sel._domainkey.example.test');
    assert.equal(rest.length, 0);
    assert.ok(rec && rec.length > 1, 'split into several character-strings');
    assert.ok(rec.every((s) => Buffer.byteLength(s) <= 255));
    assert.equal(rec.join(''), DKIM_KEY);

    const txt = await r.txt('example.test');
    assert.deepEqual(txt.map((t) => t.join('')).sort(), ['part one part two', 'v=spf1 -all']);
  });

  it('gets a response too large for UDP (falls back to TCP)', async () => {
    const txt = await make().txt('big.example.test');
    assert.equal(txt.length, 8);
    assert.deepEqual(txt.map((t) => t.join('')).sort(), zone()['big.example.test'].TXT);
  });

  it('resolves PTR from an IPv4 or IPv6 address', async () => {
    const r = make();
    assert.deepEqual(await r.ptr('192.0.2.1'), ['host.example.test']);
    assert.deepEqual(await r.ptr('2001:db8::1'), ['v6.example.test']);
    assert.equal(reverseName('::ffff:1.2.3.4').slice(0, 16), '4.0.3.0.2.0.1.0.');
    assert.throws(() => reverseName('not-an-ip'), { code: 'ERR_INVALID_ARG_VALUE' });
  });

  it('maps NXDOMAIN to ENOTFOUND and a missing type to ENODATA, like node:dns', async () => {
    const r = make();
    await assert.rejects(r.a('nope.example.test'), {
      code: 'ENOTFOUND',
      syscall: 'queryA',
      hostname: 'nope.example.test',
    });
    await assert.rejects(r.txt('only-mx.example.test'), { code: 'ENODATA', syscall: 'queryTxt' });
    await assert.rejects(r.resolve('only-mx.example.test', 'A'), { code: 'ENODATA' });
  });

  it('resolve(name, type) gives the same results as dns.promises.Resolver', async () => {
    const r = make();
    const node = new dnsPromises.Resolver({ timeout: 2000, tries: 1 });
    node.setServers([dns.server]);
    const cases: [string, string][] = [
      ['example.test', 'A'],
      ['example.test', 'AAAA'],
      ['example.test', 'MX'],
      ['example.test', 'TXT'],
      ['sel._domainkey.example.test', 'TXT'],
      ['alias.example.test', 'CNAME'],
      ['1.2.0.192.in-addr.arpa', 'PTR'],
    ];
    for (const [name, type] of cases) {
      assert.deepEqual(await r.resolve(name, type), await node.resolve(name, type), `${type} ${name}`);
    }
    assert.deepEqual(await r.resolve('example.test'), await node.resolve('example.test'), 'default type A');
    // Errors carry the same code and syscall as node's.
    for (const [name, type] of [['nope.example.test', 'MX'], ['only-mx.example.test', 'TXT']] as const) {
      const mine = await r.resolve(name, type).then(() => null, (e: NodeJS.ErrnoException) => e);
      const theirs = await node.resolve(name, type).then(() => null, (e: NodeJS.ErrnoException) => e);
      assert.ok(mine && theirs);
      assert.equal(mine.code, theirs.code);
      assert.equal(mine.syscall, theirs.syscall);
    }
    await assert.rejects(r.resolve('example.test', 'BOGUS'), { code: 'ERR_INVALID_ARG_VALUE' });
  });

  it('serves repeat lookups from the cache until clearCache()', async () => {
    dns.set('cached.example.test', { A: ['192.0.2.10'], TXT: ['old'] });
    const r = make();
    const before = dns.queryCount();
    assert.deepEqual(await r.a('cached.example.test'), ['192.0.2.10']);
    assert.deepEqual(await r.txt('cached.example.test'), [['old']]);
    assert.equal(dns.queryCount(), before + 2);

    dns.set('cached.example.test', { A: ['192.0.2.11'], TXT: ['new'] });
    assert.deepEqual(await r.a('CACHED.example.test'), ['192.0.2.10'], 'cached, any spelling');
    assert.deepEqual(await r.resolve('cached.example.test', 'TXT'), [['old']], 'resolve() shares the cache');
    assert.equal(dns.queryCount(), before + 2, 'no new queries');
    assert.deepEqual(r.stats(), { hits: 2, misses: 2, entries: 2 });

    r.clearCache();
    assert.deepEqual(await r.a('cached.example.test'), ['192.0.2.11']);
    assert.deepEqual(await r.txt('cached.example.test'), [['new']]);
  });

  it('hands every caller its own copy of cached data', async () => {
    const r = make();
    const first = await r.mx('example.test');
    first.length = 0;
    const raw = await r.resolve('example.test', 'MX');
    assert.equal(raw.length, 4);
    assert.equal(raw[0]?.exchange, 'mx-b.example.test', 'resolve() keeps answer order, as node does');
  });

  it('caches NXDOMAIN and NODATA for negativeTtlSec', async () => {
    const r = make({ negativeTtlSec: 0.3 });
    await assert.rejects(r.a('late.example.test'), { code: 'ENOTFOUND' });
    await assert.rejects(r.txt('only-mx.example.test'), { code: 'ENODATA' });
    dns.set('late.example.test', { A: ['192.0.2.20'] });
    dns.set('only-mx.example.test', { MX: [{ exchange: 'mx.example.test', priority: 5 }], TXT: ['now'] });
    const q = dns.queryCount();

    const err = await r.a('late.example.test').then(() => null, (e: NodeJS.ErrnoException) => e);
    assert.equal(err?.code, 'ENOTFOUND', 'still negative from the cache');
    await assert.rejects(r.txt('only-mx.example.test'), { code: 'ENODATA' });
    assert.equal(dns.queryCount(), q);

    // A caller mutating its error (mailauth sets err.spfResult) must not leak into the next one.
    (err as NodeJS.ErrnoException & { spfResult?: unknown }).spfResult = { error: 'permerror' };
    const again = await r.a('late.example.test').then(() => null, (e: object) => e);
    assert.ok(again && !('spfResult' in again));

    await sleep(350);
    assert.deepEqual(await r.a('late.example.test'), ['192.0.2.20']);
    assert.deepEqual(await r.txt('only-mx.example.test'), [['now']]);
    dns.set('only-mx.example.test', { MX: [{ exchange: 'mx.example.test', priority: 5 }] });
  });

  it('shares one in-flight query between concurrent identical lookups', async () => {
    dns.set('busy.example.test', { A: ['192.0.2.30'] });
    dns.setDelay(100);
    try {
      const r = make();
      const q = dns.queryCount();
      const results = await Promise.all(Array.from({ length: 5 }, () => r.a('busy.example.test')));
      assert.equal(dns.queryCount(), q + 1);
      for (const res of results) assert.deepEqual(res, ['192.0.2.30']);
      assert.notEqual(results[0], results[1], 'separate arrays');
    } finally {
      dns.setDelay(0);
    }
  });

  it('times out with ETIMEOUT within timeoutMs, and does not cache the timeout', async () => {
    dns.set('slow.example.test', { A: ['192.0.2.40'] });
    dns.setDelay(1500);
    const r = make({ timeoutMs: 300 }); // default tries = 2
    const started = Date.now();
    try {
      await assert.rejects(r.a('slow.example.test'), { code: 'ETIMEOUT', syscall: 'queryA' });
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 250 && elapsed < 1000, `took ${elapsed} ms`);
    } finally {
      dns.setDelay(0);
    }
    assert.deepEqual(await r.a('slow.example.test'), ['192.0.2.40']);
  });

  it('does not cache SERVFAIL', async () => {
    dns.set('broken.example.test', { RCODE: 'SERVFAIL' });
    const r = make({ tries: 1 });
    await assert.rejects(r.txt('broken.example.test'), { code: 'ESERVFAIL' });
    dns.set('broken.example.test', { TXT: ['fixed'] });
    assert.deepEqual(await r.txt('broken.example.test'), [['fixed']]);
  });

  it('works as the mailauth resolver (detached function, node error codes)', async () => {
    const require = createRequire(import.meta.url);
    type SpfResult = { status: { result: string } };
    const { spf } = require('mailauth/lib/spf') as { spf: (opts: object) => Promise<SpfResult> };
    dns.set('spf.example.test', { TXT: ['v=spf1 mx include:void.example.test -all'], MX: [{ exchange: 'mail.spf.example.test', priority: 10 }] });
    dns.set('mail.spf.example.test', { A: ['192.0.2.25'] });
    dns.set('void.example.test', { MX: [{ exchange: 'x.example.test', priority: 1 }] }); // no TXT → ENODATA
    dns.set('slowspf.example.test', { TXT: ['v=spf1 -all'] });

    const { resolve } = make({ timeoutMs: 300 });
    const common = { helo: 'client.example.test', mta: 'mx.hermes.test', resolver: resolve };
    const pass = await spf({ ...common, sender: 'a@spf.example.test', ip: '192.0.2.25' });
    assert.equal(pass.status.result, 'pass');
    const fail = await spf({ ...common, sender: 'a@spf.example.test', ip: '198.51.100.7' });
    assert.equal(fail.status.result, 'permerror', 'include: of a name without SPF is a permerror');
    const none = await spf({ ...common, sender: 'a@nowhere.example.test', ip: '192.0.2.25' });
    assert.equal(none.status.result, 'none', 'ENOTFOUND read as "no record"');

    dns.setDelay(1500);
    try {
      const temp = await spf({ ...common, sender: 'a@slowspf.example.test', ip: '192.0.2.25' });
      assert.equal(temp.status.result, 'temperror', 'ETIMEOUT read as temporary');
    } finally {
      dns.setDelay(0);
    }
  });
});

describe('DnsResolver TTLs', () => {
  it('honours the real TTL of A records and defaultTtlSec for the rest', async () => {
    const dns = await startTestDns({ 'ttl.example.test': { A: ['192.0.2.50'], TXT: ['one'] } }, { ttl: 1 });
    try {
      const r = new DnsResolver({ servers: [dns.server], timeoutMs: 2000, defaultTtlSec: 300 });
      assert.deepEqual(await r.a('ttl.example.test'), ['192.0.2.50']);
      assert.deepEqual(await r.txt('ttl.example.test'), [['one']]);
      dns.set('ttl.example.test', { A: ['192.0.2.51'], TXT: ['two'] });
      assert.deepEqual(await r.a('ttl.example.test'), ['192.0.2.50']);
      await sleep(1100);
      assert.deepEqual(await r.a('ttl.example.test'), ['192.0.2.51'], 'A expired after its 1 s TTL');
      assert.deepEqual(await r.txt('ttl.example.test'), [['one']], 'TXT kept for defaultTtlSec');
    } finally {
      await dns.close();
    }
  });

  it('evicts the least recently used entry beyond cacheMaxEntries', async () => {
    const dns = await startTestDns({
      'a.example.test': { A: ['192.0.2.1'] },
      'b.example.test': { A: ['192.0.2.2'] },
      'c.example.test': { A: ['192.0.2.3'] },
    });
    try {
      const r = new DnsResolver({ servers: [dns.server], timeoutMs: 2000, cacheMaxEntries: 2 });
      await r.a('a.example.test');
      await r.a('b.example.test');
      await r.a('a.example.test'); // a is now most recent
      await r.a('c.example.test'); // evicts b
      const q = dns.queryCount();
      await r.a('a.example.test');
      await r.a('c.example.test');
      assert.equal(dns.queryCount(), q, 'a and c cached');
      await r.a('b.example.test');
      assert.equal(dns.queryCount(), q + 1, 'b was evicted');
      assert.equal(r.stats().entries, 2);
    } finally {
      await dns.close();
    }
  });
});
