// Per-client counters for the MX listener, in the manner of Postfix's anvil: connections
// open now, new connections per minute and messages per hour, per client. One instance
// serves the whole gateway (the cluster primary, or the only process), so a client gets
// its limit once, not once per worker process; see client-limits.ts for how workers ask.
import { isIP } from 'node:net';
import { RateWindow } from './rate-window.ts';

const MINUTE = 60_000;
const HOUR = 3_600_000;

/** Limits of one connection attempt (0 = that limit is off). */
export interface ConnectLimits {
  /** Connections open at once from the client. */
  concurrent: number;
  /** New connections per minute from the client. */
  perMinute: number;
}

export type LimitVerdict = { ok: true } | { ok: false; limit: 'concurrent' | 'connection-rate' | 'message-rate'; max: number };

/**
 * The client a limit counts: its address for IPv4; its /64 for IPv6, as one host
 * commonly owns a whole /64 and could otherwise open a connection from each address.
 */
export function clientKey(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  const groups = expandIpv6(ip);
  return groups ? `${groups.slice(0, 4).join(':')}::/64` : ip;
}

/** The eight 16-bit groups of an IPv6 address, without leading zeros; null if it is not one. */
function expandIpv6(ip: string): string[] | null {
  let text = ip.toLowerCase().split('%')[0]!;
  // An embedded IPv4 tail ("::ffff:1.2.3.4") becomes two groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail === undefined ? [] : tail ? tail.split(':') : [];
  const fill = tail === undefined ? 0 : 8 - h.length - t.length;
  if (fill < 0) return null;
  const all = [...h, ...Array<string>(fill).fill('0'), ...t];
  if (all.length !== 8) return null;
  return all.map((g) => parseInt(g, 16).toString(16));
}

export class ClientCounters {
  /** Open connections: owner (a worker) → connection id → client key. */
  readonly #open = new Map<string, Map<string, string>>();
  readonly #concurrent = new Map<string, number>();
  readonly #connections = new RateWindow(MINUTE);
  readonly #messages = new RateWindow(HOUR);

  /** A new connection of `key`; counted as open (until `disconnect`) only when allowed. */
  connect(owner: string, conn: string, key: string, limits: ConnectLimits, now = Date.now()): LimitVerdict {
    // The rate counts allowed connections only, so a client hammering past its limit
    // comes back as soon as the minute of its last good ones is over.
    if (limits.perMinute > 0 && this.#connections.count(key, now) >= limits.perMinute) return { ok: false, limit: 'connection-rate', max: limits.perMinute };
    const open = this.#concurrent.get(key) ?? 0;
    if (limits.concurrent > 0 && open >= limits.concurrent) return { ok: false, limit: 'concurrent', max: limits.concurrent };
    if (limits.perMinute > 0) this.#connections.add(key, limits.perMinute, now);
    let conns = this.#open.get(owner);
    if (!conns) this.#open.set(owner, (conns = new Map()));
    if (conns.has(conn)) return { ok: true };
    conns.set(conn, key);
    this.#concurrent.set(key, open + 1);
    return { ok: true };
  }

  disconnect(owner: string, conn: string): void {
    const conns = this.#open.get(owner);
    const key = conns?.get(conn);
    if (key === undefined) return;
    conns!.delete(conn);
    this.#release(key);
  }

  /** A worker ended: its connections ended with it. */
  dropOwner(owner: string): void {
    const conns = this.#open.get(owner);
    if (!conns) return;
    this.#open.delete(owner);
    for (const key of conns.values()) this.#release(key);
  }

  /** One more message (a MAIL command) from `key`: refused once `perHour` are in the last hour. */
  message(key: string, perHour: number, now = Date.now()): LimitVerdict {
    if (perHour <= 0) return { ok: true };
    return this.#messages.take(key, perHour, now) ? { ok: true } : { ok: false, limit: 'message-rate', max: perHour };
  }

  /** Connections open now from `key` (for tests and diagnostics). */
  openCount(key: string): number {
    return this.#concurrent.get(key) ?? 0;
  }

  #release(key: string): void {
    const n = (this.#concurrent.get(key) ?? 1) - 1;
    if (n > 0) this.#concurrent.set(key, n);
    else this.#concurrent.delete(key);
  }
}
