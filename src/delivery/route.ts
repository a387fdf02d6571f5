// Where a recipient's copy goes. Decided at acceptance and stored with the recipient;
// MX records are looked up at delivery time, so they are always fresh.
export type Route = { kind: 'mx'; domain: string } | { kind: 'host'; host: string; port: number };

export interface NextHop {
  host: string;
  port: number;
}

/** "host", "host:port", "[1.2.3.4]:port" or "[::1]:port" → host and port (default 25). */
export function parseNextHop(text: string, defaultPort = 25): NextHop {
  const t = text.trim();
  let host: string;
  let port: string | undefined;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  if (bracket) {
    host = bracket[1]!;
    port = bracket[2];
  } else {
    const parts = t.split(':');
    if (parts.length > 2) throw new Error(`invalid next hop "${text}": write IPv6 addresses as [addr]:port`);
    host = parts[0]!;
    port = parts[1];
  }
  if (!host || !/^[a-zA-Z0-9.:_-]+$/.test(host)) throw new Error(`invalid next hop "${text}"`);
  const p = port === undefined ? defaultPort : Number(port);
  if (!Number.isInteger(p) || p < 1 || p > 65535) throw new Error(`invalid port in next hop "${text}"`);
  return { host, port: p };
}

export function formatRoute(r: Route): string {
  return r.kind === 'mx' ? `mx:${r.domain}` : `host:${r.host.includes(':') ? `[${r.host}]` : r.host}:${r.port}`;
}

export function parseRoute(s: string): Route {
  if (s.startsWith('mx:')) return { kind: 'mx', domain: s.slice(3) };
  if (s.startsWith('host:')) {
    const hop = parseNextHop(s.slice(5));
    return { kind: 'host', host: hop.host, port: hop.port };
  }
  throw new Error(`bad route ${s}`);
}

export function routeFromNextHop(nextHop: string | null, domain: string): Route {
  if (!nextHop) return { kind: 'mx', domain };
  const hop = parseNextHop(nextHop);
  return { kind: 'host', host: hop.host, port: hop.port };
}
