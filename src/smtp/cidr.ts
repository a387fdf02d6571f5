// CIDR parsing and matching for relay networks (and later bypass lists), on Node's
// own net.BlockList so address arithmetic is not ours to get wrong.
import { BlockList, isIP } from 'node:net';

export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
  canonical: string;
}

export function parseCidr(text: string): Cidr {
  const t = text.trim();
  const [addr = '', pfx] = t.split('/');
  const v = isIP(addr);
  if (v === 0) throw new Error(`invalid network "${text}": expected an IPv4 or IPv6 address with an optional /prefix`);
  const max = v === 4 ? 32 : 128;
  const prefix = pfx === undefined ? max : Number(pfx);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (pfx !== undefined && !/^\d+$/.test(pfx))) {
    throw new Error(`invalid prefix length in "${text}" (0-${max})`);
  }
  const family = v === 4 ? 'ipv4' : 'ipv6';
  return { address: addr.toLowerCase(), prefix, family, canonical: `${addr.toLowerCase()}/${prefix}` };
}

/** "::ffff:10.0.0.1" → "10.0.0.1": dual-stack listeners report IPv4 clients that way. */
export function normaliseIp(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m?.[1] ?? ip;
}

export class NetworkSet {
  readonly #list = new BlockList();
  readonly size: number;

  constructor(cidrs: string[]) {
    for (const c of cidrs) {
      const p = parseCidr(c);
      this.#list.addSubnet(p.address, p.prefix, p.family);
    }
    this.size = cidrs.length;
  }

  contains(ip: string): boolean {
    const a = normaliseIp(ip);
    const v = isIP(a);
    if (v === 0) return false;
    return this.#list.check(a, v === 4 ? 'ipv4' : 'ipv6');
  }
}
