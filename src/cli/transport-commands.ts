// `hermes tls-policy` (outbound TLS level per destination) and `hermes mta-sts` (the
// MTA-STS policies receiving domains published, as cached). See docs/transport-security.md.
import type { Command } from 'commander';
import { cliActor } from '../services/actor.ts';
import { forgetMtaStsPolicy, listMtaStsPolicies, listTlsPolicies, removeTlsPolicy, setTlsPolicy } from '../services/tls-policy-service.ts';
import { printTable, withDataDir, withDb } from './context.ts';

type D = { dataDir: string };

export function registerTransport(program: Command): void {
  const tp = program.command('tls-policy').description('outbound TLS level per destination: none, may (default, opportunistic), encrypt (TLS required), verify (certificate checked)');
  withDataDir(
    tp
      .command('set <destination> <level>')
      .description('destination: a recipient domain (MX delivery), ".domain" for every name below it, or a next hop / smarthost host name ("[10.0.0.5]" for an address)'),
  ).action(async (destination: string, level: string, o: D) => {
    await withDb(o.dataDir, async (db) => {
      const p = await setTlsPolicy(db, cliActor(), destination, level);
      console.log(`TLS policy ${p.destination}: ${p.level}`);
    });
  });
  withDataDir(tp.command('list').description('the TLS policies')).action(async (o: D) => {
    await withDb(o.dataDir, async (db) => printTable((await listTlsPolicies(db, cliActor())).map((p) => ({ ...p })), ['destination', 'level'], '(none: opportunistic TLS everywhere, MTA-STS where published)'));
  });
  withDataDir(tp.command('remove <destination>').description('back to the default (opportunistic TLS, MTA-STS where published)')).action(async (destination: string, o: D) => {
    await withDb(o.dataDir, async (db) => {
      await removeTlsPolicy(db, cliActor(), destination);
      console.log(`removed TLS policy ${destination}`);
    });
  });

  const sts = program.command('mta-sts').description('MTA-STS policies (RFC 8461) fetched from receiving domains (turn off with: settings set delivery.mtaSts false)');
  withDataDir(sts.command('list').description('cached policies: mode, MX patterns, expiry')).action(async (o: D) => {
    await withDb(o.dataDir, async (db) =>
      printTable((await listMtaStsPolicies(db, cliActor())).map((p) => ({ ...p, mx: p.mx.join(' ') })), ['domain', 'mode', 'mx', 'id', 'expiresAt']),
    );
  });
  withDataDir(sts.command('forget <domain>').description('drop a cached policy; the next delivery fetches it again')).action(async (domain: string, o: D) => {
    await withDb(o.dataDir, async (db) => {
      await forgetMtaStsPolicy(db, cliActor(), domain);
      console.log(`forgot the MTA-STS policy of ${domain}`);
    });
  });
}
