// The blocklist spam check: the client IP against the IP zones and the registered
// domains of the body's links against the URI zones, all at once under one time budget
// (dnsbl.budgetMs). A listing adds its zone entry's symbol and weight. What could not be
// asked is reported with zero-score symbols (as SpamAssassin's *_BLOCKED rules do), so
// the trace and X-Spam-Status show it: DNSBL_TIMEOUT (no answer in time), DNSBL_BLOCKED
// (the list refused the query: 127.255.255.x, typically through a public resolver),
// DNSBL_ERROR (SERVFAIL and the like). Not registered among the default checks: it
// needs the network; the spam stage adds it (see dnsListCheck's callers).
import type { Settings } from '../../../config/settings.ts';
import type { SpamCheck, SpamSymbol } from '../spam/types.ts';
import { isLookupableIp, ipQueryPrefix, lookupLists, type ALookup, type ListProblem, type ListReport } from './lookup.ts';
import { uriDomains } from './uri-domains.ts';

export interface DnsListCheckOptions {
  /** DnsResolver.a of the gateway's resolver. */
  lookup: ALookup;
  settings: () => Pick<Settings, 'dnsbl.enabled' | 'dnsbl.ipZones' | 'dnsbl.uriZones' | 'dnsbl.budgetMs' | 'dnsbl.maxUriDomains'>;
}

export function dnsListCheck(o: DnsListCheckOptions): SpamCheck {
  return {
    name: 'dnsbl',
    async run(input, ctx) {
      const s = o.settings();
      if (!s['dnsbl.enabled']) return [];
      const budget = s['dnsbl.budgetMs'];
      const ip = input.envelope?.clientIp;
      const ipZones = isLookupableIp(ip) ? s['dnsbl.ipZones'] : [];
      const uriZones = s['dnsbl.uriZones'];
      const domains = uriZones.length ? uriDomains(ctx.urls.map((u) => u.host), (d) => ctx.isLocalDomain(d), s['dnsbl.maxUriDomains']) : [];
      const [ipReport, uriReport] = await Promise.all([
        lookupLists(ipZones.length ? [ip!] : [], ipZones, ipQueryPrefix, o.lookup, budget),
        lookupLists(domains, uriZones, (d) => d, o.lookup, budget),
      ]);
      return [...listingSymbols(ipReport), ...listingSymbols(uriReport), ...problemSymbols([...ipReport.problems, ...uriReport.problems])];
    },
  };
}

/** One symbol per listed entry, naming every target that hit it. */
function listingSymbols(r: ListReport): SpamSymbol[] {
  const by = new Map<string, { weight: number; description: string; targets: string[] }>();
  for (const h of r.hits) {
    const cur = by.get(h.entry.symbol);
    const what = `${h.target} in ${h.entry.zone} (${h.answer})`;
    if (cur) cur.targets.push(what);
    else by.set(h.entry.symbol, { weight: h.entry.weight, description: h.entry.description ?? `listed in ${h.entry.zone}`, targets: [what] });
  }
  return [...by].map(([name, v]) => ({ name, score: v.weight, description: `${v.description}: ${v.targets.slice(0, 5).join(', ')}` }));
}

const PROBLEM_SYMBOLS: Record<string, { name: string; text: string }> = {
  timeout: { name: 'DNSBL_TIMEOUT', text: 'blocklists that did not answer in time (skipped)' },
  refused: { name: 'DNSBL_BLOCKED', text: 'blocklists that refused the query (127.255.255.x, e.g. through a public resolver; not counted)' },
};

function problemSymbols(problems: ListProblem[]): SpamSymbol[] {
  const by = new Map<string, Set<string>>();
  for (const p of problems) {
    const name = PROBLEM_SYMBOLS[p.kind]?.name ?? 'DNSBL_ERROR';
    const set = by.get(name) ?? new Set<string>();
    set.add(p.kind === 'refused' ? `${p.zone} (${p.detail})` : p.kind in PROBLEM_SYMBOLS ? p.zone : `${p.zone} (${p.kind})`);
    by.set(name, set);
  }
  return [...by].map(([name, zones]) => {
    const text = Object.values(PROBLEM_SYMBOLS).find((x) => x.name === name)?.text ?? 'blocklists that failed (skipped)';
    return { name, score: 0, description: `${text}: ${[...zones].join(', ')}` };
  });
}
