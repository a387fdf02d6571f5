// TXT lookups for the record checks: each record's character-strings joined, and "no
// record" told apart from a lookup that failed.
import type { DnsResolver } from '../../dns/resolver.ts';
import { isNoRecord } from './finding.ts';

export type TxtAnswer = { ok: true; records: string[] } | { ok: false; error: string };

export async function lookupTxt(dns: DnsResolver, name: string): Promise<TxtAnswer> {
  try {
    return { ok: true, records: (await dns.txt(name)).map((parts) => parts.join('')) };
  } catch (err) {
    if (isNoRecord(err)) return { ok: true, records: [] };
    return { ok: false, error: `${(err as { code?: string }).code ?? (err as Error).message}` };
  }
}
