// `hermes dnsbl`: the blocklists in use, and asking them about an address or domain
// now, through the gateway's DNS servers (to check a listing or the setup).
import type { Command } from 'commander';
import { isIP } from 'node:net';
import { loadSettings, setSetting } from '../config/settings.ts';
import { DnsResolver } from '../dns/resolver.ts';
import { ipQueryPrefix, lookupLists } from '../pipeline/filter/dnsbl/lookup.ts';
import { registeredDomain } from '../pipeline/filter/dnsbl/uri-domains.ts';
import { printTable, withDataDir, withDb } from './context.ts';

type D = { dataDir: string };

export function registerDnsbl(program: Command): void {
  const dnsbl = program
    .command('dnsbl')
    .description('DNS blocklists: client IPs (dnsbl.ipZones) and linked domains (dnsbl.uriZones); change them with "hermes settings set"');

  withDataDir(dnsbl.command('list').description('show the zones, their weights, and which refuse clients in the session')).action(async (o: D) => {
    await withDb(o.dataDir, async (db) => {
      const s = await loadSettings(db);
      const reject = new Set(s['dnsbl.rejectZones']);
      console.log(`blocklists ${s['dnsbl.enabled'] ? 'on' : 'off'} (dnsbl.enabled); budget ${s['dnsbl.budgetMs']} ms per message; at most ${s['dnsbl.maxUriDomains']} linked domains`);
      const rows = [
        ...s['dnsbl.ipZones'].map((z) => ({ ...z, kind: 'client IP' })),
        ...s['dnsbl.uriZones'].map((z) => ({ ...z, kind: 'linked domain' })),
      ];
      printTable(
        rows.map((z) => ({
          kind: z.kind,
          zone: z.zone,
          symbol: z.symbol,
          weight: z.weight,
          answers: z.codes?.join(',') ?? (z.mask !== undefined ? `mask ${z.mask}` : 'any 127.x'),
          session: z.kind === 'client IP' && reject.has(z.zone) ? 'reject 554' : '',
        })),
        ['kind', 'zone', 'symbol', 'weight', 'answers', 'session'],
        'no zones configured',
      );
      const extra = [...reject].filter((z) => !s['dnsbl.ipZones'].some((e) => e.zone === z));
      if (extra.length) console.log(`also refusing clients listed in: ${extra.join(', ')}`);
    });
  });

  withDataDir(dnsbl.command('check <target>').description('look an IP address (client zones) or a domain/URL host (linked-domain zones) up now')).action(
    async (target: string, o: D) => {
      await withDb(o.dataDir, async (db, cfg) => {
        const s = await loadSettings(db);
        const resolver = new DnsResolver({ ...(cfg.dnsServers.length ? { servers: cfg.dnsServers } : {}), timeoutMs: Math.max(1000, s['dnsbl.budgetMs']) });
        const ip = isIP(target) !== 0;
        const what = ip ? target : registeredDomain(target);
        if (!what) throw new Error(`"${target}" is neither an IP address nor a domain under a public suffix`);
        const zones = ip ? s['dnsbl.ipZones'] : s['dnsbl.uriZones'];
        const r = await lookupLists([what], zones, ip ? ipQueryPrefix : (d) => d, resolver.a, Math.max(1000, s['dnsbl.budgetMs']));
        console.log(`${what}: ${r.hits.length ? 'LISTED' : 'not listed'} (${r.queries} zone(s) asked)`);
        for (const h of r.hits) console.log(`  ${h.entry.symbol} (${h.entry.weight}): ${h.entry.zone} answered ${h.answer}`);
        for (const p of r.problems) console.log(`  ${p.zone}: ${p.kind}${p.detail ? ` (${p.detail})` : ''}`);
      });
    },
  );

  withDataDir(
    dnsbl
      .command('reject <zones...>')
      .description('refuse clients listed in these zones in the session (554 5.7.1); "none" to refuse none'),
  ).action(async (zones: string[], o: D) => {
    await withDb(o.dataDir, async (db) => {
      const list = zones.length === 1 && zones[0] === 'none' ? [] : zones.map((z) => z.toLowerCase());
      await setSetting(db, 'dnsbl.rejectZones', list);
      console.log(list.length ? `refusing clients listed in ${list.join(', ')}` : 'no blocklist refuses clients in the session');
    });
  });
}
