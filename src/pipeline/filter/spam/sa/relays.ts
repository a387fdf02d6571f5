// The relays of a message read from its Received headers, as SpamAssassin's
// X-Spam-Relays-* pseudo headers give them to rules:
//   [ ip=192.0.2.1 rdns=mail.example.com helo=mail.example.com by=mx.example.net ident= envfrom= intl=0 id=ABC auth= msa=0 ]
// Trust is inferred as SpamAssassin does without trusted_networks: the relays at the
// top whose client is on a private or loopback address were handovers inside the
// receiving site; from the first public address on, every relay is untrusted.

export interface SaRelay {
  ip: string;
  rdns: string;
  helo: string;
  by: string;
  id: string;
  auth: string;
}

const IPV4 = /\b(\d{1,3}(?:\.\d{1,3}){3})\b/;

export function isPrivateIp(ip: string): boolean {
  return /^(?:127\.|10\.|192\.168\.|172\.(?:1[6-9]|2\d|3[01])\.|169\.254\.)/.test(ip) || ip === '::1';
}

/** One Received header (unfolded) as a relay, or null when it records no handover from a client. */
export function parseReceived(value: string): SaRelay | null {
  const v = value.replace(/\s+/g, ' ').trim();
  const from = /^from\s+(.*?)(?:\s+by\s+([^\s;()]+)|;|$)/i.exec(v);
  if (!from) return null;
  const fromPart = from[1]!;
  const by = from[2] ?? '';
  // Exim writes the client's reverse DNS name first, then [ip] and helo= when the HELO
  // differs: "from rdns ([ip] helo=name) by ... (Exim ...)" (SpamAssassin's Received.pm reads it so).
  if (/Exim/.test(v)) {
    const ex = /^(\S+) \(\[([\d.]+)\](.*?)\)$/.exec(fromPart) ?? /^(\S+) \[([\d.]+)\](?::\d+)?()$/.exec(fromPart);
    if (ex && !ex[1]!.startsWith('[')) {
      const helo = /helo=(\S+)/.exec(ex[3]!)?.[1] ?? ex[1]!;
      const id = / id ([^\s;]+)/i.exec(v)?.[1] ?? '';
      const auth = /\bwith\s+(?:e?smtpa|e?smtpsa|asmtp)\b/i.test(v) ? 'smtp' : '';
      return { ip: ex[2]!, rdns: ex[1]!, helo, by: by.replace(/[;,]$/, ''), id, auth };
    }
  }
  const ipm = /\[(?:IPv6:)?([\d.]+)\]/i.exec(fromPart) ?? /\(([\d.]+)\)/.exec(fromPart) ?? IPV4.exec(fromPart);
  if (!ipm) return null;
  const ip = ipm[1]!;
  let helo = /^([^\s()[\]]+)/.exec(fromPart)?.[1] ?? '';
  const heloEq = /\(?helo[= ]([^\s()]+)\)?/i.exec(fromPart);
  if (heloEq) helo = heloEq[1]!;
  if (helo.startsWith('[') || helo === ip) helo = helo.replace(/^\[|\]$/g, '');
  let rdns = '';
  // qmail: "from rdns (HELO name) (ip)" names the reverse DNS first.
  const qmail = /^(\S+) \(HELO ([^\s()]*)\) \(([\d.]+)\)/i.exec(fromPart);
  if (qmail && !IPV4.test(qmail[1]!)) {
    rdns = qmail[1]!;
    helo = qmail[2]!;
  }
  // Sendmail: "(rdns [ip])", maybe followed by "(may be forged)".
  const paren = /\(([^()\s]+)\s+\[[\d.]+\](?:\)|\s*\(may be forged\)\))/.exec(fromPart);
  if (rdns) {
    /* qmail above */
  } else if (paren && !IPV4.test(paren[1]!) && paren[1]!.toLowerCase() !== 'unknown') rdns = paren[1]!;
  else if (/^[a-z0-9-]+(?:\.[a-z0-9-]+)+$/i.test(helo) && !heloEq && !paren && /^\S+\s+\(\[/.test(fromPart) === false) rdns = '';
  const id = / id ([^\s;]+)/i.exec(v)?.[1] ?? '';
  const auth = /\bwith\s+(?:e?smtpa|e?smtpsa|asmtp)\b/i.test(v) ? 'smtp' : '';
  return { ip, rdns, helo: helo.toLowerCase() === 'unknown' ? '' : helo, by: by.replace(/[;,]$/, ''), id, auth };
}

export function parseRelays(received: readonly string[]): { trusted: SaRelay[]; untrusted: SaRelay[] } {
  const trusted: SaRelay[] = [];
  const untrusted: SaRelay[] = [];
  let inside = true;
  for (const r of received) {
    const relay = parseReceived(r);
    if (!relay) continue;
    if (inside && isPrivateIp(relay.ip)) trusted.push(relay);
    else {
      inside = false;
      untrusted.push(relay);
    }
  }
  return { trusted, untrusted };
}

export function relayString(r: SaRelay): string {
  return `[ ip=${r.ip} rdns=${r.rdns} helo=${r.helo} by=${r.by} ident= envfrom= intl=0 id=${r.id} auth=${r.auth} msa=0 ]`;
}
