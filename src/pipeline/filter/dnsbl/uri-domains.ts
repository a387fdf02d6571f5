// The domains a URI blocklist is asked about: the registered domain (Public Suffix
// List, the same tldts copy DMARC uses here) of every host linked in the body, without
// our own domains and without bare IP addresses, at most `max` of them.
import { organizationalDomain } from '../../verify/authenticate.ts';
import { isIpHost } from '../spam/urls.ts';

export function registeredDomain(host: string): string | null {
  const h = host.toLowerCase().replace(/\.+$/, '');
  if (!h || isIpHost(h) || !h.includes('.')) return null;
  try {
    return organizationalDomain(h);
  } catch {
    return null;
  }
}

export function uriDomains(hosts: Iterable<string>, isLocal: (domain: string) => boolean, max: number): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const host of hosts) {
    if (out.length >= max) break;
    const d = registeredDomain(host);
    if (!d || seen.has(d)) continue;
    seen.add(d);
    if (!isLocal(d)) out.push(d);
  }
  return out;
}
