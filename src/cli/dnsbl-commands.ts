// `hermes dnsbl`: the blocklists in use, and asking them about an address or domain
// now, through the gateway's DNS servers (to check a listing or the setup).
import type { Command } from 'commander';
import { cliActor } from '../services/actor.ts';
import { checkDnsbl, getDnsbl, updateDnsbl } from '../services/dnsbl-service.ts';
import { printTable, withDataDir, withDb } from './context.ts';

type D = { dataDir: string };

export function registerDnsbl(program: Command): void {
  const dnsbl = program
    .command('dnsbl')
    .description('DNS blocklists: client IPs (dnsbl.ipZones) and linked domains (dnsbl.uriZones); change them with "hermes settings set"');

  withDataDir(dnsbl.command('list').description('show the zones, their weights, and which refuse clients in the session')).action(async (o: D) => {
    await withDb(o.dataDir, async (db) => {
      const c = await getDnsbl(db, cliActor());
      const reject = new Set(c.rejectZones);
      console.log(`blocklists ${c.enabled ? 'on' : 'off'} (dnsbl.enabled); budget ${c.budgetMs} ms per message; at most ${c.maxUriDomains} linked domains`);
      const rows = [...c.ipZones.map((z) => ({ ...z, kind: 'client IP' })), ...c.uriZones.map((z) => ({ ...z, kind: 'linked domain' }))];
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
      const extra = [...reject].filter((z) => !c.ipZones.some((e) => e.zone === z));
      if (extra.length) console.log(`also refusing clients listed in: ${extra.join(', ')}`);
    });
  });

  withDataDir(dnsbl.command('check <target>').description('look an IP address (client zones) or a domain/URL host (linked-domain zones) up now')).action(
    async (target: string, o: D) => {
      await withDb(o.dataDir, async (db, cfg) => {
        const r = await checkDnsbl(db, cliActor(), target, { dnsServers: cfg.dnsServers });
        console.log(`${r.query}: ${r.listed ? 'LISTED' : 'not listed'} (${r.queries} zone(s) asked)`);
        for (const h of r.hits) console.log(`  ${h.symbol} (${h.weight}): ${h.zone} answered ${h.answer}`);
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
      const list = (await updateDnsbl(db, cliActor(), { rejectZones: zones.length === 1 && zones[0] === 'none' ? [] : zones })).rejectZones;
      console.log(list.length ? `refusing clients listed in ${list.join(', ')}` : 'no blocklist refuses clients in the session');
    });
  });
}
