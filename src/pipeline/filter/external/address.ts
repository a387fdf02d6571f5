// Where the external engines listen. spamd: "host:port", "[v6]:port" or "unix:/path"
// (spamc's -d/-p and -U); Rspamd: its normal worker's HTTP base URL, "http://host:port".
export type SpamdAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

export function parseSpamdAddress(text: string): SpamdAddress {
  const unix = /^unix:(\/.+)$/.exec(text);
  if (unix) return { kind: 'unix', path: unix[1]! };
  const tcp = /^(?:\[([^\]]+)\]|([^:\s/[\]]+)):(\d{1,5})$/.exec(text);
  if (tcp) {
    const port = Number(tcp[3]);
    if (port >= 1 && port <= 65535) return { kind: 'tcp', host: (tcp[1] ?? tcp[2])!, port };
  }
  throw new Error(`spamd address "${text}" must be "host:port" (spamd's default port is 783) or "unix:/path/to/spamd.sock"`);
}

export function formatSpamdAddress(a: SpamdAddress): string {
  return a.kind === 'unix' ? `unix:${a.path}` : `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

/** "http://127.0.0.1:11333" (a trailing slash is fine): the base URL /checkv2 is appended to. */
export function parseRspamdUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`rspamd address "${text}" must be an http URL like "http://127.0.0.1:11333"`);
  }
  if (url.protocol !== 'http:') throw new Error(`rspamd address "${text}" must use http: (Rspamd's normal worker speaks plain HTTP, port 11333 by default)`);
  if (url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) {
    throw new Error(`rspamd address "${text}" must be just "http://host:port", without path, query or credentials`);
  }
  return url;
}
