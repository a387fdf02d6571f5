// DNS resolver for the gateway: configurable servers, an overall deadline per query,
// a TTL cache with negative caching, and in-flight de-duplication.
//
// All wire work is done by Node's c-ares binding (dns.promises.Resolver); this file
// only decides what to ask, what to remember and for how long. Results and errors
// keep exactly the shapes and codes of node:dns, because callers such as mailauth
// branch on `err.code` (ENOTFOUND/ENODATA = "no record", anything else = temperror).

import { promises as dnsPromises } from 'node:dns';
import type { AnyRecord, CaaRecord, MxRecord, NaptrRecord, SoaRecord, SrvRecord } from 'node:dns';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface DnsResolverOptions {
  /** "1.2.3.4", "127.0.0.1:5353", "[::1]:53"... Default: the system's servers. */
  servers?: string[];
  /** Overall deadline for one lookup, all tries included. Default 5000. */
  timeoutMs?: number;
  /** Tries per server (c-ares `tries`). Default 2. */
  tries?: number;
  /** Upper bound on cached answers (positive and negative). Default 10000. */
  cacheMaxEntries?: number;
  /** How long NXDOMAIN (ENOTFOUND) and NODATA (ENODATA) are remembered. Default 60. */
  negativeTtlSec?: number;
  /** Cache lifetime for types whose TTL Node does not expose (all but A/AAAA). Default 300. */
  defaultTtlSec?: number;
}

export interface DnsResolverStats {
  /** Lookups answered from the cache (positive or negative). */
  hits: number;
  /** Lookups that needed the network (including those that joined an in-flight query). */
  misses: number;
  /** Entries currently cached. */
  entries: number;
}

/** The error node:dns throws, with the fields mailauth and our callers read. */
export interface DnsError extends Error {
  code: string;
  syscall?: string;
  hostname?: string;
  errno?: number;
}

/** Record types accepted by dns.promises.resolve(). */
export type RRType = 'A' | 'AAAA' | 'ANY' | 'CAA' | 'CNAME' | 'MX' | 'NAPTR' | 'NS' | 'PTR' | 'SOA' | 'SRV' | 'TXT';

type ResolveResult =
  | string[]
  | MxRecord[]
  | string[][]
  | AnyRecord[]
  | CaaRecord[]
  | NaptrRecord[]
  | SoaRecord
  | SrvRecord[];

// Node's syscall names, so our synthesised errors (timeouts) read like node's own.
const SYSCALL: Record<RRType, string> = {
  A: 'queryA',
  AAAA: 'queryAaaa',
  ANY: 'queryAny',
  CAA: 'queryCaa',
  CNAME: 'queryCname',
  MX: 'queryMx',
  NAPTR: 'queryNaptr',
  NS: 'queryNs',
  PTR: 'queryPtr',
  SOA: 'querySoa',
  SRV: 'querySrv',
  TXT: 'queryTxt',
};

// Only "the name/type does not exist" is a stable answer worth remembering. Timeouts,
// SERVFAIL, REFUSED, connection errors are transient: caching them would turn a blip
// into a minute of tempfails.
const NEGATIVE_CODES = new Set(['ENOTFOUND', 'ENODATA']);

type Outcome = { ok: true; value: ResolveResult; ttlSec: number } | { ok: false; error: DnsError };

interface CacheEntry {
  expiresAt: number; // performance.now() ms: monotonic, immune to wall-clock jumps
  outcome: Outcome;
}

export class DnsResolver {
  private readonly resolver: dnsPromises.Resolver;
  private readonly timeoutMs: number;
  private readonly cacheMaxEntries: number;
  private readonly negativeTtlSec: number;
  private readonly defaultTtlSec: number;

  // Map iteration order is insertion order, so re-inserting on hit gives an LRU.
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Promise<Outcome>>();
  // Bumped by clearCache() so a query already on the wire cannot refill the cache
  // with an answer from before the clear.
  private generation = 0;
  private hits = 0;
  private misses = 0;

  constructor(opts: DnsResolverOptions = {}) {
    this.timeoutMs = positive(opts.timeoutMs, 5000, 'timeoutMs');
    const tries = Math.floor(positive(opts.tries, 2, 'tries'));
    this.cacheMaxEntries = Math.floor(nonNegative(opts.cacheMaxEntries, 10000, 'cacheMaxEntries'));
    this.negativeTtlSec = nonNegative(opts.negativeTtlSec, 60, 'negativeTtlSec');
    this.defaultTtlSec = nonNegative(opts.defaultTtlSec, 300, 'defaultTtlSec');

    // c-ares doubles the per-try timeout on each round (t, 2t, 4t...), so to fit
    // `tries` rounds into timeoutMs on one server the first try gets
    // timeoutMs / (2^tries - 1). The JS deadline below enforces the overall cap
    // whatever c-ares does (several servers, adaptive timeouts).
    const perTry = Math.max(1, Math.floor(this.timeoutMs / (2 ** tries - 1)));
    this.resolver = new dnsPromises.Resolver({ timeout: perTry, tries });
    if (opts.servers && opts.servers.length > 0) this.resolver.setServers(opts.servers);

    // mailauth calls its resolver as a bare function (`resolver(name, type)`), so the
    // methods must work detached from the instance.
    this.resolve = this.resolve.bind(this) as typeof this.resolve;
    this.mx = this.mx.bind(this);
    this.a = this.a.bind(this);
    this.aaaa = this.aaaa.bind(this);
    this.txt = this.txt.bind(this);
    this.ptr = this.ptr.bind(this);
  }

  /** MX records sorted by priority (stable: equal priorities keep the server's order). */
  async mx(domain: string): Promise<MxRecord[]> {
    const records = (await this.lookup('MX', domain)) as MxRecord[];
    return records.sort((x, y) => x.priority - y.priority);
  }

  async a(name: string): Promise<string[]> {
    return (await this.lookup('A', name)) as string[];
  }

  async aaaa(name: string): Promise<string[]> {
    return (await this.lookup('AAAA', name)) as string[];
  }

  /** Each record is its list of character-strings; join them to get the value. */
  async txt(name: string): Promise<string[][]> {
    return (await this.lookup('TXT', name)) as string[][];
  }

  /** PTR names for an IP address (builds the in-addr.arpa / ip6.arpa name itself). */
  async ptr(ip: string): Promise<string[]> {
    return (await this.lookup('PTR', reverseName(ip))) as string[];
  }

  /**
   * Same signature and result shapes as dns.promises.resolve(name, rrtype), cached.
   * Suitable as mailauth's `resolver` option. rrtype is matched case-insensitively.
   */
  resolve(name: string, rrtype?: 'A' | 'AAAA' | 'CNAME' | 'NS' | 'PTR'): Promise<string[]>;
  resolve(name: string, rrtype: 'ANY'): Promise<AnyRecord[]>;
  resolve(name: string, rrtype: 'CAA'): Promise<CaaRecord[]>;
  resolve(name: string, rrtype: 'MX'): Promise<MxRecord[]>;
  resolve(name: string, rrtype: 'NAPTR'): Promise<NaptrRecord[]>;
  resolve(name: string, rrtype: 'SOA'): Promise<SoaRecord>;
  resolve(name: string, rrtype: 'SRV'): Promise<SrvRecord[]>;
  resolve(name: string, rrtype: 'TXT'): Promise<string[][]>;
  resolve(name: string, rrtype: string): Promise<ResolveResult>;
  async resolve(name: string, rrtype: string = 'A'): Promise<ResolveResult> {
    const type = String(rrtype).toUpperCase();
    if (!(type in SYSCALL)) {
      const err = new TypeError(`The argument 'rrtype' is invalid. Received '${rrtype}'`) as TypeError & { code: string };
      err.code = 'ERR_INVALID_ARG_VALUE';
      throw err;
    }
    return this.lookup(type as RRType, name);
  }

  /** Forget every cached answer (positive and negative). */
  clearCache(): void {
    this.cache.clear();
    this.inflight.clear();
    this.generation++;
  }

  stats(): DnsResolverStats {
    return { hits: this.hits, misses: this.misses, entries: this.cache.size };
  }

  // Cache → in-flight → network. Every caller gets its own copy of the value, or its
  // own error object: callers mutate both (mailauth sets err.spfResult, we sort MX).
  private async lookup(type: RRType, name: string): Promise<ResolveResult> {
    if (typeof name !== 'string' || name === '') {
      const err = new TypeError(`The "name" argument must be a non-empty string`) as TypeError & { code: string };
      err.code = 'ERR_INVALID_ARG_TYPE';
      throw err;
    }
    // DNS names are case-insensitive and "a.b." is "a.b": one cache slot for all spellings.
    const qname = name.toLowerCase().replace(/\.$/, '');
    const key = `${type} ${qname}`;

    const hit = this.cache.get(key);
    if (hit) {
      if (hit.expiresAt > performance.now()) {
        this.hits++;
        this.cache.delete(key);
        this.cache.set(key, hit);
        return unwrap(hit.outcome);
      }
      this.cache.delete(key);
    }
    this.misses++;

    let pending = this.inflight.get(key);
    if (!pending) {
      const generation = this.generation;
      const p: Promise<Outcome> = this.query(type, qname).then((outcome) => {
        if (this.inflight.get(key) === p) this.inflight.delete(key);
        if (generation === this.generation) this.store(key, outcome);
        return outcome;
      });
      pending = p;
      this.inflight.set(key, p);
    }
    return unwrap(await pending);
  }

  // Never rejects: failures become an Outcome so that a shared promise can be
  // awaited by many callers without unhandled-rejection games.
  private async query(type: RRType, qname: string): Promise<Outcome> {
    try {
      const { value, ttlSec } = await this.withDeadline(this.ask(type, qname), type, qname);
      return { ok: true, value, ttlSec };
    } catch (err) {
      return { ok: false, error: asDnsError(err, type, qname) };
    }
  }

  private async ask(type: RRType, qname: string): Promise<{ value: ResolveResult; ttlSec: number }> {
    const r = this.resolver;
    switch (type) {
      // Node exposes real TTLs only for A and AAAA; honour the smallest in the RRset.
      case 'A':
      case 'AAAA': {
        const recs = type === 'A' ? await r.resolve4(qname, { ttl: true }) : await r.resolve6(qname, { ttl: true });
        const ttlSec = recs.reduce((min, rec) => Math.min(min, rec.ttl), Number.POSITIVE_INFINITY);
        return { value: recs.map((rec) => rec.address), ttlSec: Number.isFinite(ttlSec) ? ttlSec : this.defaultTtlSec };
      }
      case 'ANY':
        return { value: await r.resolveAny(qname), ttlSec: this.defaultTtlSec };
      case 'CAA':
        return { value: await r.resolveCaa(qname), ttlSec: this.defaultTtlSec };
      case 'CNAME':
        return { value: await r.resolveCname(qname), ttlSec: this.defaultTtlSec };
      case 'MX':
        return { value: await r.resolveMx(qname), ttlSec: this.defaultTtlSec };
      case 'NAPTR':
        return { value: await r.resolveNaptr(qname), ttlSec: this.defaultTtlSec };
      case 'NS':
        return { value: await r.resolveNs(qname), ttlSec: this.defaultTtlSec };
      case 'PTR':
        return { value: await r.resolvePtr(qname), ttlSec: this.defaultTtlSec };
      case 'SOA':
        return { value: await r.resolveSoa(qname), ttlSec: this.defaultTtlSec };
      case 'SRV':
        return { value: await r.resolveSrv(qname), ttlSec: this.defaultTtlSec };
      case 'TXT':
        return { value: await r.resolveTxt(qname), ttlSec: this.defaultTtlSec };
    }
  }

  // c-ares' own timeouts are per try and adaptive; callers (an SMTP session waiting
  // to answer DATA) need a hard bound on the whole lookup. If the deadline wins, the
  // c-ares query is left to finish on its own and its late answer is dropped.
  private withDeadline<T>(work: Promise<T>, type: RRType, qname: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(makeError('ETIMEOUT', type, qname));
      }, this.timeoutMs);
      work.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });
  }

  private store(key: string, outcome: Outcome): void {
    let ttlSec: number;
    if (outcome.ok) ttlSec = outcome.ttlSec;
    else if (NEGATIVE_CODES.has(outcome.error.code)) ttlSec = this.negativeTtlSec;
    else return;
    // TTL 0 means "do not cache" (RFC 1035 §3.2.1); also covers cacheMaxEntries = 0.
    if (!(ttlSec > 0) || this.cacheMaxEntries === 0) return;

    this.cache.delete(key);
    while (this.cache.size >= this.cacheMaxEntries) {
      const oldest = this.cache.keys().next();
      if (oldest.done) break;
      this.cache.delete(oldest.value);
    }
    this.cache.set(key, { expiresAt: performance.now() + ttlSec * 1000, outcome });
  }
}

function unwrap(outcome: Outcome): ResolveResult {
  if (outcome.ok) return copyValue(outcome.value);
  throw cloneError(outcome.error);
}

/**
 * A caller's own copy of a cached answer. Answers are arrays of strings, of string arrays
 * (TXT) or of flat records (MX, SRV, ...), or one flat record (SOA): two levels of
 * copying cover them, at a fraction of structuredClone's cost on every cache hit.
 */
function copyValue<T>(v: T): T {
  const copyItem = (x: unknown): unknown =>
    Array.isArray(x) ? x.slice() : x !== null && typeof x === 'object' ? Object.fromEntries(Object.entries(x).map(([k, y]) => [k, Array.isArray(y) ? y.slice() : y])) : x;
  return (Array.isArray(v) ? v.map(copyItem) : copyItem(v)) as T;
}

function makeError(code: string, type: RRType, hostname: string): DnsError {
  const syscall = SYSCALL[type];
  const err = new Error(`${syscall} ${code} ${hostname}`) as DnsError;
  err.code = code;
  err.syscall = syscall;
  err.hostname = hostname;
  return err;
}

function asDnsError(err: unknown, type: RRType, qname: string): DnsError {
  if (err instanceof Error && typeof (err as Partial<DnsError>).code === 'string') return err as DnsError;
  // Should not happen with node:dns, but a code-less error would be treated by
  // mailauth as a temperror anyway; give it one so nothing downstream guesses.
  const e = makeError('EUNKNOWN', type, qname);
  e.message += `: ${err instanceof Error ? err.message : String(err)}`;
  return e;
}

function cloneError(src: DnsError): DnsError {
  // A cached failure has no useful stack (it did not happen here); skipping its capture
  // matters because blocklist lookups answer NXDOMAIN for nearly every message.
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  const err = new Error(src.message) as DnsError;
  Error.stackTraceLimit = limit;
  err.code = src.code;
  if (src.errno !== undefined) err.errno = src.errno;
  if (src.syscall !== undefined) err.syscall = src.syscall;
  if (src.hostname !== undefined) err.hostname = src.hostname;
  return err;
}

/** The in-addr.arpa / ip6.arpa name for an address, as used for PTR lookups. */
export function reverseName(ip: string): string {
  const addr = ip.replace(/%.*$/, ''); // drop an IPv6 zone id (fe80::1%eth0)
  const family = isIP(addr);
  if (family === 4) return `${addr.split('.').reverse().join('.')}.in-addr.arpa`;
  if (family === 6) {
    // URL canonicalises IPv6 and rewrites an embedded dotted quad (::ffff:1.2.3.4)
    // into hex groups, leaving only "::" to expand.
    const canon = new URL(`http://[${addr}]/`).hostname.slice(1, -1);
    const [head = '', tail] = canon.split('::');
    const headGroups = head ? head.split(':') : [];
    const tailGroups = tail ? tail.split(':') : [];
    const fill = tail === undefined ? [] : new Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
    const hex = [...headGroups, ...fill, ...tailGroups].map((g) => g.padStart(4, '0')).join('');
    return `${hex.split('').reverse().join('.')}.ip6.arpa`;
  }
  const err = new TypeError(`Invalid IP address: ${ip}`) as TypeError & { code: string };
  err.code = 'ERR_INVALID_ARG_VALUE';
  throw err;
}

function positive(v: number | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  if (!(Number.isFinite(v) && v > 0)) throw new RangeError(`DnsResolver: ${name} must be > 0`);
  return v;
}

function nonNegative(v: number | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  if (!(Number.isFinite(v) && v >= 0)) throw new RangeError(`DnsResolver: ${name} must be >= 0`);
  return v;
}
