// Turning a route into the hosts to try, in order. MX routes follow RFC 5321 section 5:
// MX records by preference, the domain's own address when it has no MX, and a null MX
// (RFC 7505) as a permanent refusal.
import { isIP } from 'node:net';
import type { DnsResolver } from '../dns/resolver.ts';
import type { Route } from './route.ts';

export interface Destination {
  /** Name for logs and the trace (MX host name or the configured next hop). */
  name: string;
  address: string;
  port: number;
}

export class DestinationError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
    readonly status: string,
  ) {
    super(message);
  }
}

const MAX_MX_HOSTS = 5;

export async function resolveDestinations(route: Route, dns: DnsResolver, mxPort: number): Promise<Destination[]> {
  if (route.kind === 'host') {
    if (isIP(route.host)) return [{ name: route.host, address: route.host, port: route.port }];
    const addrs = await addressesOf(route.host, dns);
    if (!addrs.length) throw new DestinationError(`next hop ${route.host} has no address`, false, '4.4.4');
    return addrs.map((a) => ({ name: route.host, address: a, port: route.port }));
  }
  let mx: Array<{ exchange: string; priority: number }>;
  try {
    mx = await dns.mx(route.domain);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTFOUND') throw new DestinationError(`domain ${route.domain} does not exist`, true, '5.1.2');
    if (code === 'ENODATA') mx = [];
    else throw new DestinationError(`MX lookup for ${route.domain} failed: ${code ?? String(err)}`, false, '4.4.3');
  }
  if (mx.length === 1 && (mx[0]!.exchange === '' || mx[0]!.exchange === '.')) {
    throw new DestinationError(`domain ${route.domain} does not accept mail (null MX)`, true, '5.1.10');
  }
  const hosts = mx.length ? mx.map((m) => m.exchange) : [route.domain];
  const out: Destination[] = [];
  let lastError: unknown = null;
  for (const host of hosts.slice(0, MAX_MX_HOSTS)) {
    try {
      for (const a of await addressesOf(host, dns)) out.push({ name: host, address: a, port: mxPort });
    } catch (err) {
      lastError = err;
    }
  }
  if (!out.length) {
    const code = (lastError as NodeJS.ErrnoException | null)?.code;
    if (!mx.length && (code === 'ENOTFOUND' || code === 'ENODATA' || lastError === null)) {
      throw new DestinationError(`domain ${route.domain} has no MX and no address`, true, '5.1.2');
    }
    throw new DestinationError(`no address found for the mail servers of ${route.domain}`, false, '4.4.4');
  }
  return out;
}

async function addressesOf(host: string, dns: DnsResolver): Promise<string[]> {
  if (isIP(host)) return [host];
  const [v4, v6] = await Promise.allSettled([dns.a(host), dns.aaaa(host)]);
  const addrs = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
  if (!addrs.length && v4.status === 'rejected') throw v4.reason;
  return addrs;
}
