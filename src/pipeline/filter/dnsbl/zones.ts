// DNS blocklists: which zones to ask, what their answers mean and what they weigh.
// A listing is an A record under the zone (127.0.0.x); the last octet tells the list's
// reason (Spamhaus ZEN: 2-3 SBL, 4-7 XBL, 9 DROP, 10-11 PBL). An entry counts an answer
// when it is one of `codes`, or when its last octet has a bit of `mask` (multi-lists);
// with neither, any 127.x answer counts.

export interface DnsListZone {
  /** The DNS zone queried, e.g. "zen.spamhaus.org". */
  zone: string;
  /** The symbol emitted on a listing, e.g. "RCVD_IN_SBL". */
  symbol: string;
  /** Score added when listed. */
  weight: number;
  /** Answers that count, as addresses ("127.0.0.2"); several entries may share one zone. */
  codes?: string[];
  /** Bitmask on the answer's last octet (for lists that OR reasons together). */
  mask?: number;
  description?: string;
}

export const DEFAULT_IP_ZONES: DnsListZone[] = [
  { zone: 'zen.spamhaus.org', symbol: 'RCVD_IN_SBL', weight: 3, codes: ['127.0.0.2', '127.0.0.3', '127.0.0.9'], description: 'client listed in Spamhaus SBL/DROP' },
  { zone: 'zen.spamhaus.org', symbol: 'RCVD_IN_XBL', weight: 3.5, codes: ['127.0.0.4', '127.0.0.5', '127.0.0.6', '127.0.0.7'], description: 'client listed in Spamhaus XBL (exploited host)' },
  { zone: 'zen.spamhaus.org', symbol: 'RCVD_IN_PBL', weight: 2, codes: ['127.0.0.10', '127.0.0.11'], description: 'client listed in Spamhaus PBL (end-user address range)' },
  { zone: 'b.barracudacentral.org', symbol: 'RCVD_IN_BRBL', weight: 1.5, codes: ['127.0.0.2'], description: 'client listed in the Barracuda reputation list' },
  { zone: 'bl.spamcop.net', symbol: 'RCVD_IN_SPAMCOP', weight: 1.5, codes: ['127.0.0.2'], description: 'client listed in SpamCop' },
];

export const DEFAULT_URI_ZONES: DnsListZone[] = [
  { zone: 'dbl.spamhaus.org', symbol: 'URIBL_DBL_SPAM', weight: 3, codes: ['127.0.1.2'], description: 'body links to a domain listed in Spamhaus DBL as spam' },
  { zone: 'dbl.spamhaus.org', symbol: 'URIBL_DBL_PHISH', weight: 4.5, codes: ['127.0.1.4'], description: 'body links to a domain listed in Spamhaus DBL as phishing' },
  { zone: 'dbl.spamhaus.org', symbol: 'URIBL_DBL_MALWARE', weight: 4.5, codes: ['127.0.1.5', '127.0.1.6'], description: 'body links to a domain listed in Spamhaus DBL as malware or botnet' },
  {
    zone: 'dbl.spamhaus.org',
    symbol: 'URIBL_DBL_ABUSED',
    weight: 1.5,
    codes: ['127.0.1.102', '127.0.1.103', '127.0.1.104', '127.0.1.105', '127.0.1.106'],
    description: 'body links to an abused legitimate domain listed in Spamhaus DBL',
  },
];

/**
 * Spamhaus answers 127.255.255.x for refused queries (252 typo in the zone, 254 query
 * through a public resolver, 255 too many queries): an error, never a listing.
 */
export function isErrorAnswer(addr: string): boolean {
  return addr.startsWith('127.255.255.');
}

/** Whether an A answer counts as a listing for this zone entry. */
export function answerMatches(z: DnsListZone, addr: string): boolean {
  if (!addr.startsWith('127.') || isErrorAnswer(addr)) return false;
  if (z.codes?.length) return z.codes.includes(addr);
  if (z.mask !== undefined) return (Number(addr.split('.')[3]) & z.mask) !== 0;
  return true;
}

const ZONE_RE = /^(?=.{1,253}$)([a-z0-9_](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

/** Validation for the settings dnsbl.ipZones / dnsbl.uriZones; throws a precise error. */
export function validateZoneList(key: string, value: unknown): void {
  const example = '[{"zone": "zen.spamhaus.org", "symbol": "RCVD_IN_ZEN", "weight": 3, "codes": ["127.0.0.2"]}]';
  if (!Array.isArray(value)) throw new Error(`${key} must be a list of zones like ${example}`);
  for (const z of value as unknown[]) {
    if (typeof z !== 'object' || z === null) throw new Error(`${key}: every entry must be an object like ${example}`);
    const e = z as Record<string, unknown>;
    for (const k of Object.keys(e)) {
      if (!['zone', 'symbol', 'weight', 'codes', 'mask', 'description'].includes(k)) throw new Error(`${key}: unknown field "${k}" (known: zone, symbol, weight, codes, mask, description)`);
    }
    if (typeof e.zone !== 'string' || !ZONE_RE.test(e.zone)) throw new Error(`${key}: "${String(e.zone)}" is not a DNS zone name`);
    if (typeof e.symbol !== 'string' || !/^[A-Z0-9_]{1,64}$/.test(e.symbol)) throw new Error(`${key}: symbol must be upper-case letters, digits and "_" (got ${JSON.stringify(e.symbol)})`);
    if (typeof e.weight !== 'number' || !Number.isFinite(e.weight)) throw new Error(`${key}: weight of ${e.zone} must be a number`);
    if (e.codes !== undefined) {
      if (!Array.isArray(e.codes)) throw new Error(`${key}: codes of ${e.zone} must be a list of addresses like ["127.0.0.2"]`);
      for (const c of e.codes) {
        if (typeof c !== 'string' || !/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(c) || c.split('.').some((o) => Number(o) > 255)) {
          throw new Error(`${key}: code ${JSON.stringify(c)} of ${e.zone} is not a 127.x.x.x address`);
        }
      }
    }
    if (e.mask !== undefined && (typeof e.mask !== 'number' || !Number.isInteger(e.mask) || e.mask < 1 || e.mask > 255)) {
      throw new Error(`${key}: mask of ${e.zone} must be an integer 1-255`);
    }
    if (e.description !== undefined && typeof e.description !== 'string') throw new Error(`${key}: description of ${e.zone} must be text`);
  }
}

/** Validation for dnsbl.rejectZones: plain zone names. */
export function validateZoneNames(key: string, value: unknown): void {
  if (!Array.isArray(value)) throw new Error(`${key} must be a list of zone names, e.g. ["zen.spamhaus.org"]`);
  for (const z of value) if (typeof z !== 'string' || !ZONE_RE.test(z)) throw new Error(`${key}: "${String(z)}" is not a DNS zone name`);
}
