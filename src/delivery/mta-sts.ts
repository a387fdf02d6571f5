// MTA-STS (RFC 8461) for outbound delivery: whether a receiving domain asks for
// verified TLS to a listed set of MX hosts. The TXT record (_mta-sts.<domain>) and the
// policy's syntax are read with mailauth's helpers; the HTTPS fetch is ours because it
// must trust the admin's CA file as well (delivery.tlsCaFile), and tests (and split DNS
// setups) point it at another port (delivery.mtaStsPort).
//
// Caching (section 5.1): a fetched policy is kept for its max_age in the database, so
// every worker and node shares it and a restart does not forget it; a cached policy
// still in date keeps applying when the TXT record disappears or the fetch fails, which
// is what defeats an attacker who strips the record. A new id in the TXT record means
// a new policy to fetch.
import { request, type RequestOptions } from 'node:https';
import { isIP } from 'node:net';
import type { SecureContext } from 'node:tls';
import mtaSts from 'mailauth/lib/mta-sts.js';
import type { Db } from '../db/database.ts';
import type { DnsResolver } from '../dns/resolver.ts';
import { forgetCachedStsPolicy, getCachedStsPolicy, putCachedStsPolicy, type CachedStsPolicy } from '../db/repos/mta-sts-cache.ts';

/** RFC 8461 section 3.3: senders may refuse larger policies. */
const MAX_POLICY_BYTES = 64 * 1024;
const FETCH_TIMEOUT_MS = 15_000;
/** After a failed fetch with nothing cached, the domain is not asked again for this long. */
const FAILED_FETCH_MEMO_MS = 5 * 60_000;

export interface StsLookup {
  /** The policy in force (null: the domain has none, or none could be had). */
  policy: CachedStsPolicy | null;
  /** none: no policy published; cached / fetched: from where; failed: published but not fetchable (and nothing cached). */
  status: 'none' | 'cached' | 'fetched' | 'failed';
  /** Why the TXT lookup or the fetch failed (also when a cached policy stood in). */
  error?: string;
}

export interface MtaStsOptions {
  db: Db;
  dns: DnsResolver;
  /** The roots the policy host's certificate must chain to. */
  secureContext: () => SecureContext;
  /** The HTTPS port of mta-sts.<domain> (443 but in tests). */
  port: () => number;
  now?: () => number;
}

export class MtaStsResolver {
  readonly #failed = new Map<string, { until: number; error: string }>();
  readonly #inflight = new Map<string, Promise<StsLookup>>();

  constructor(private readonly o: MtaStsOptions) {}

  /** The policy for mail to `domain`; one lookup at a time per domain. */
  lookup(domain: string): Promise<StsLookup> {
    const d = domain.toLowerCase();
    let p = this.#inflight.get(d);
    if (!p) {
      p = this.#lookup(d).finally(() => this.#inflight.delete(d));
      this.#inflight.set(d, p);
    }
    return p;
  }

  async #lookup(domain: string): Promise<StsLookup> {
    const now = this.o.now?.() ?? Date.now();
    const cached = await getCachedStsPolicy(this.o.db, domain);
    const fresh = cached && cached.expiresAt > now ? cached : null;
    let id: string | false;
    try {
      id = await mtaSts.resolvePolicy(domain, { resolver: (name, type) => this.o.dns.resolve(name, type as 'TXT') });
    } catch (err) {
      // A DNS failure is not "no policy": the cached one, if any, stands.
      const error = `TXT lookup of _mta-sts.${domain} failed: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
      return fresh ? { policy: fresh, status: 'cached', error } : { policy: null, status: 'failed', error };
    }
    if (id === false) {
      if (fresh) return { policy: fresh, status: 'cached' };
      if (cached) await forgetCachedStsPolicy(this.o.db, domain);
      return { policy: null, status: 'none' };
    }
    if (fresh && fresh.id === id) return { policy: fresh, status: 'cached' };
    const memo = this.#failed.get(domain);
    if (memo && memo.until > now && !fresh) return { policy: null, status: 'failed', error: memo.error };
    try {
      const parsed = mtaSts.parsePolicy(await this.#fetch(domain));
      const policy: CachedStsPolicy = { domain, id, mode: parsed.mode, mx: parsed.mx ?? [], maxAge: parsed.maxAge, fetchedAt: now, expiresAt: now + parsed.maxAge * 1000 };
      await putCachedStsPolicy(this.o.db, policy);
      this.#failed.delete(domain);
      return { policy, status: 'fetched' };
    } catch (err) {
      const error = `MTA-STS policy of ${domain} could not be fetched: ${(err as Error).message}`;
      if (fresh) return { policy: fresh, status: 'cached', error };
      this.#failed.set(domain, { until: now + FAILED_FETCH_MEMO_MS, error });
      return { policy: null, status: 'failed', error };
    }
  }

  /** GET https://mta-sts.<domain>/.well-known/mta-sts.txt: certificate verified, no redirects, text/plain, at most 64 KiB. */
  async #fetch(domain: string): Promise<Buffer> {
    const host = `mta-sts.${domain}`;
    const address = await this.#address(host);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: address,
          port: this.o.port(),
          servername: host,
          path: '/.well-known/mta-sts.txt',
          method: 'GET',
          headers: { host, 'user-agent': 'Hermes-SEG MTA-STS' },
          secureContext: this.o.secureContext(),
          rejectUnauthorized: true,
          timeout: FETCH_TIMEOUT_MS,
          agent: false,
          // node:https passes secureContext on to tls.connect; its RequestOptions type omits it.
        } as RequestOptions,
        (res) => {
          // Section 3.3: a redirect is not followed, and the policy is text/plain.
          if (res.statusCode !== 200) {
            res.resume();
            return reject(new Error(`HTTP status ${res.statusCode ?? '?'}`));
          }
          const type = String(res.headers['content-type'] ?? '');
          if (!/^text\/plain\b/i.test(type)) {
            res.resume();
            return reject(new Error(`content type "${type}" is not text/plain`));
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_POLICY_BYTES) {
              req.destroy(new Error(`policy larger than ${MAX_POLICY_BYTES} bytes`));
              return;
            }
            chunks.push(c);
          });
          res.on('end', () => resolve(Buffer.concat(chunks)));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer from https://${host}/ within ${FETCH_TIMEOUT_MS / 1000} s`)));
      req.on('error', reject);
      req.end();
    });
  }

  async #address(host: string): Promise<string> {
    if (isIP(host)) return host;
    const [v4, v6] = await Promise.allSettled([this.o.dns.a(host), this.o.dns.aaaa(host)]);
    const all = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
    if (!all.length) throw new Error(`${host} has no address`);
    return all[0]!;
  }
}

/** Whether an MX host name is one the policy lists (exact, or "*.example.com" for one label). */
export function mxAllowed(mx: string, policy: CachedStsPolicy): boolean {
  // mailauth's matcher lets "*.example.com" match any depth; RFC 8461 section 4.1 allows
  // only the left-most label, so the extra labels are checked here.
  const name = mx.toLowerCase().replace(/\.$/, '');
  return policy.mx.some((p) => {
    const pat = p.toLowerCase().replace(/\.$/, '');
    if (pat.startsWith('*.')) {
      const rest = pat.slice(2);
      return name.endsWith(`.${rest}`) && !name.slice(0, -rest.length - 1).includes('.');
    }
    return name === pat;
  });
}
