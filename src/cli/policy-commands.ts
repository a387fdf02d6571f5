// Relay policy from the command line: domains, recipients, networks, settings. Changes
// apply to running gateways at their next SMTP session, without a restart.
import type { Command } from 'commander';
import { SETTINGS_DEFAULTS } from '../config/settings.ts';
import { cliActor } from '../services/actor.ts';
import { listDomains, removeDomain, saveDomain } from '../services/domains-service.ts';
import { addNetwork, listNetworks, removeNetwork } from '../services/networks-service.ts';
import { collectPages } from '../services/page.ts';
import { addRecipient, listRecipients, removeRecipient } from '../services/recipients-service.ts';
import { listSettings, resetSetting, setSetting } from '../services/settings-service.ts';
import { clearSmarthost, setSmarthost } from '../services/smarthost-service.ts';
import { loadMasterKey } from '../keys/master-key.ts';
import { printTable, withDataDir, withDb } from './context.ts';
import { readInputFile } from './read-input.ts';

type D = { dataDir: string };

export function registerPolicy(program: Command): void {
  const domain = program.command('domain').description('relay domains: the domains this gateway accepts mail for');
  withDataDir(
    domain
      .command('add <domain>')
      .description('add or change a relay domain')
      .option('--next-hop <host[:port]>', 'deliver to this server (default: the domain\'s MX records)')
      .option('--require-tls', 'refuse to deliver to the next hop without STARTTLS')
      .option('--recipients <mode>', '"any" accepts every address; "specified" only those added with "recipient add"', 'any'),
  ).action(async (name: string, o: D & { nextHop?: string; requireTls?: boolean; recipients: string }) => {
    await withDb(o.dataDir, async (db) => {
      await saveDomain(db, cliActor(), { domain: name, nextHop: o.nextHop ?? null, requireTls: !!o.requireTls, recipientMode: o.recipients as 'any' | 'specified' }, 'upsert');
      console.log(`relay domain ${name.toLowerCase()}: next hop ${o.nextHop ?? 'MX lookup'}, recipients ${o.recipients}${o.requireTls ? ', TLS required' : ''}`);
    });
  });
  withDataDir(domain.command('list').description('list relay domains')).action(async (o: D) => {
    await withDb(o.dataDir, async (db) => {
      const domains = await collectPages((cursor, limit) => listDomains(db, cliActor(), { ...(cursor ? { cursor } : {}), limit }));
      const rows = domains.map((d) => ({ domain: d.domain, next_hop: d.nextHop ?? '(MX)', recipient_mode: d.recipientMode, require_tls: d.requireTls ? 'yes' : 'no' }));
      printTable(rows, ['domain', 'next_hop', 'recipient_mode', 'require_tls']);
    });
  });
  withDataDir(domain.command('remove <domain>').description('remove a relay domain')).action(async (name: string, o: D) => {
    await withDb(o.dataDir, async (db) => {
      await removeDomain(db, cliActor(), name);
      console.log(`removed relay domain ${name}`);
    });
  });

  const rcpt = program.command('recipient').description('relay recipients: valid addresses on domains with --recipients specified');
  withDataDir(rcpt.command('add <address>').description('add an address, or *@domain for the whole domain')).action(async (p: string, o: D) => {
    await withDb(o.dataDir, async (db) => {
      await addRecipient(db, cliActor(), p);
      console.log(`added recipient ${p.toLowerCase()}`);
    });
  });
  withDataDir(rcpt.command('list').description('list relay recipients').option('--domain <domain>', 'only this domain')).action(async (o: D & { domain?: string }) => {
    await withDb(o.dataDir, async (db) => {
      const rows = await collectPages((cursor, limit) => listRecipients(db, cliActor(), { ...(o.domain ? { domain: o.domain } : {}), ...(cursor ? { cursor } : {}), limit }));
      printTable(rows.map((r) => ({ ...r })), ['pattern', 'domain']);
    });
  });
  withDataDir(rcpt.command('remove <address>').description('remove a relay recipient')).action(async (p: string, o: D) => {
    await withDb(o.dataDir, async (db) => {
      await removeRecipient(db, cliActor(), p);
      console.log(`removed recipient ${p}`);
    });
  });

  const net = program.command('network').description('relay networks: client addresses allowed to send to any destination (your own servers)');
  withDataDir(net.command('add <cidr>').description('add an IPv4 or IPv6 network, e.g. 10.0.0.0/8').option('--description <text>', 'a note for admins')).action(
    async (cidr: string, o: D & { description?: string }) => {
      await withDb(o.dataDir, async (db) => console.log(`added relay network ${(await addNetwork(db, cliActor(), { cidr, description: o.description ?? null })).cidr}`));
    },
  );
  withDataDir(net.command('list').description('list relay networks')).action(async (o: D) => {
    await withDb(o.dataDir, async (db) => printTable((await collectPages((cursor, limit) => listNetworks(db, cliActor(), { ...(cursor ? { cursor } : {}), limit }))).map((n) => ({ ...n })), ['cidr', 'description']));
  });
  withDataDir(net.command('remove <cidr>').description('remove a relay network')).action(async (cidr: string, o: D) => {
    await withDb(o.dataDir, async (db) => {
      await removeNetwork(db, cliActor(), cidr);
      console.log(`removed relay network ${cidr}`);
    });
  });

  const smarthost = program.command('smarthost').description('send outbound mail through another server instead of MX lookups');
  withDataDir(
    smarthost
      .command('set <host[:port]>')
      .description('use this smarthost for mail to non-relay domains, optionally logging in (AUTH after TLS; the password is stored sealed by the master key)')
      .option('--user <name>', 'log in as this user')
      .option('--password-file <file>', 'the password, first line of this file ("-" for standard input)')
      .option('--tls <mode>', 'starttls (port 587/25, STARTTLS required before AUTH) or implicit (port 465)', 'starttls')
      .option('--no-login', 'remove a stored login'),
  ).action(async (h: string, o: D & { user?: string; passwordFile?: string; tls: string; login: boolean }) => {
    if (!!o.user !== !!o.passwordFile) throw new Error('--user and --password-file go together');
    if (o.tls !== 'starttls' && o.tls !== 'implicit') throw new Error('--tls must be "starttls" or "implicit"');
    const login = o.user ? { user: o.user, password: readInputFile(o.passwordFile!, { what: 'password file', stdin: true }).toString('utf8').split(/\r?\n/)[0]!, tls: o.tls as 'starttls' | 'implicit' } : o.login ? undefined : null;
    await withDb(o.dataDir, async (db, cfg) => {
      const r = await setSmarthost(db, cliActor(), h, login, () => loadMasterKey(cfg.masterKeyFile));
      console.log(`smarthost ${r.host}${r.user ? ` (login ${r.user}, ${r.tls === 'implicit' ? 'implicit TLS' : 'STARTTLS'})` : ''}`);
    });
  });
  withDataDir(smarthost.command('clear').description('deliver outbound mail by MX lookup again')).action(async (o: D) => {
    await withDb(o.dataDir, async (db) => {
      await clearSmarthost(db, cliActor());
      console.log('smarthost cleared: outbound mail goes to the recipients\' MX hosts');
    });
  });

  const settings = program.command('settings').description('gateway settings held in the database');
  withDataDir(settings.command('list').description('show every setting with its current value')).action(async (o: D) => {
    await withDb(o.dataDir, async (db) => {
      printTable(
        (await listSettings(db, cliActor())).map((s) => ({ key: s.key, value: JSON.stringify(s.value) })),
        ['key', 'value'],
      );
    });
  });
  withDataDir(settings.command('set <key> <value>').description('set a setting; the value is JSON (numbers, "strings", {objects})')).action(
    async (key: string, value: string, o: D) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(value);
      } catch {
        parsed = value; // a bare word is taken as a string
      }
      await withDb(o.dataDir, async (db) => {
        await setSetting(db, cliActor(), key, parsed);
        console.log(`${key} = ${JSON.stringify(parsed)}`);
      });
    },
  );
  withDataDir(settings.command('reset <key>').description('return a setting to its default')).action(async (key: string, o: D) => {
    await withDb(o.dataDir, async (db) => {
      await resetSetting(db, cliActor(), key);
      console.log(`${key} reset to ${JSON.stringify(SETTINGS_DEFAULTS[key as keyof typeof SETTINGS_DEFAULTS])}`);
    });
  });
}
