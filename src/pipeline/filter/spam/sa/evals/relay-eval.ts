// RelayEval: the Received trail, read by relays.ts as SpamAssassin's relay lists.
import type { SaEvalFn } from './types.ts';
import { isPrivateIp } from '../relays.ts';

const IPV4 = /^\d+\.\d+\.\d+\.\d+$/;

/** SpamAssassin's hostname_to_domain: the last two labels (three under a two-letter country code). */
export function hostnameToDomain(host: string): string {
  if (!/[a-zA-Z]/.test(host)) return host;
  const parts = host.split('.');
  if (parts.length > 1 && /(?:\S{3,}|ie|fr|de)/.test(parts[parts.length - 1]!)) return parts.slice(-2).join('.');
  if (parts.length > 2) return parts.slice(-3).join('.');
  return host;
}

const DOMAIN = /^\w+(?:[\w.-]+\.)+\w+$/;

export const RELAY_EVALS: Record<string, SaEvalFn> = {
  check_all_trusted: (m) => m.relays.trusted.length > 0 && m.relays.untrusted.length === 0,
  check_no_relays: (m) => m.relays.trusted.length === 0 && m.relays.untrusted.length === 0,
  check_relays_unparseable: () => false,
  helo_ip_mismatch: (m) =>
    m.relays.untrusted.some((r) => {
      if (!IPV4.test(r.helo) || isPrivateIp(r.helo)) return false;
      const net = /^(\d+\.\d+\.\d+\.)/.exec(r.helo)?.[1];
      return IPV4.test(r.ip) && !isPrivateIp(r.ip) && r.helo !== r.ip && !!net && !r.ip.startsWith(net);
    }),
  check_for_no_rdns_dotcom_helo: (m) => {
    let hit = false;
    for (const r of m.relays.untrusted) {
      if (isPrivateIp(r.ip)) continue;
      hit = /(?:\.|^)(?:lycos\.com|lycos\.co\.uk|hotmail\.com|localhost\.com|excite\.com|caramail\.com|cs\.com|aol\.com|msn\.com|yahoo\.com|drizzle\.com)$/i.test(r.helo) && !r.rdns;
    }
    return hit;
  },
  check_for_forged_received_trail: (m) => {
    const rs = m.relays.untrusted;
    const from = rs.map((r) => (r.rdns ? hostnameToDomain(r.rdns.toLowerCase()) : undefined));
    let mismatch = 0;
    for (let i = 0; i < rs.length; i++) {
      const by = hostnameToDomain(rs[i]!.by.toLowerCase());
      if (!DOMAIN.test(by)) continue;
      if (from[i] && /^localhost(?:\.localdomain)?$/.test(from[i]!) && rs[i]!.ip === '127.0.0.1') from[i] = undefined;
      const prev = i > 0 ? from[i - 1] : undefined;
      if (prev && DOMAIN.test(prev) && by !== prev && !(by === 'msn.com' && prev === 'hotmail.com')) mismatch++;
    }
    return mismatch > 1;
  },
};
