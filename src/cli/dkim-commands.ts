// DKIM signing keys and ARC sealing from the command line. Keys live in the database,
// their private halves sealed with the install's master key; every change applies to
// running gateways at their next SMTP session.
import { readInputFile } from './read-input.ts';
import type { Command } from 'commander';
import type { LoadedConfig } from '../config/bootstrap.ts';
import { normaliseDomain } from '../db/repos/relay-policy.ts';
import { DnsResolver } from '../dns/resolver.ts';
import { loadMasterKey, type MasterKey } from '../keys/master-key.ts';
import { cliActor } from '../services/actor.ts';
import {
  DEFAULT_OVERLAP_DAYS,
  dnsRecords,
  generateKey,
  getArc,
  importKey,
  isArcKey,
  listKeys,
  removeExpiredKeys,
  removeKey,
  rotateKeys,
  setArc,
  type DkimKeyView,
} from '../services/dkim-service.ts';
import { fmtTime, printTable, withDataDir, withDb } from './context.ts';

type D = { dataDir: string };

function masterKey(cfg: LoadedConfig): MasterKey {
  try {
    return loadMasterKey(cfg.masterKeyFile);
  } catch (err) {
    throw new Error(`cannot read the master key ${cfg.masterKeyFile} (${(err as Error).message}); run "hermes init" to create it`);
  }
}

function readKeyFile(file: string): string {
  return readInputFile(file, { what: 'key file' }).toString('utf8');
}

/** A key file's problems name the file. */
async function withKeyFile<T>(file: string | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (file && (err as { details?: Record<string, string> }).details?.privateKey) throw new Error(`${file}: ${(err as Error).message}`);
    throw err;
  }
}

function parseOverlap(days: string): number {
  const n = Number(days);
  if (!Number.isFinite(n) || n < 0 || n > 365) throw new Error(`--overlap-days must be a number of days from 0 to 365 (got "${days}")`);
  return n;
}

const ms = (iso: string | null) => (iso === null ? null : Date.parse(iso));

function describeStatus(r: DkimKeyView): string {
  const st = r.status;
  if (st === 'active') return 'active: signs';
  if (st === 'pending') return 'pending: publish, then "hermes dkim rotate" activates it';
  if (st === 'retiring') return `retiring: keep published until ${fmtTime(ms(r.removeAfter))}, no longer signs`;
  return `expired: overlap ended ${fmtTime(ms(r.removeAfter))}; unpublish it and run "hermes dkim remove ${r.domain} ${r.selector}"`;
}

function printRecords(rows: DkimKeyView[]): void {
  for (const r of rows) {
    console.log(`; ${r.domain} ${r.algorithm} ${r.bits} bits, selector ${r.selector}: ${describeStatus(r)}`);
    console.log(r.zoneLine);
  }
}

export function registerDkim(program: Command): void {
  const dkim = program
    .command('dkim')
    .description('DKIM signing keys: outbound mail from the relay networks is signed with the active keys of its From domain');

  withDataDir(
    dkim
      .command('generate <domain>')
      .description('make a new key pair for a domain; it signs at once (or with --pending, after "dkim rotate")')
      .option('--selector <selector>', 'DNS selector (default: algorithm and date, e.g. rsa20250603)')
      .option('--algorithm <alg>', 'rsa (2048 bits) or ed25519; add one of each to sign twice', 'rsa')
      .option('--bits <n>', 'RSA key size, 1024-4096', '2048')
      .option('--pending', 'publish first: the key waits until "hermes dkim rotate <domain>" activates it'),
  ).action(async (domain: string, o: D & { selector?: string; algorithm: string; bits: string; pending?: boolean }) => {
    await withDb(o.dataDir, async (db, cfg) => {
      const row = await generateKey(db, cliActor(), masterKey(cfg), {
        domain,
        algorithm: o.algorithm,
        ...(o.selector ? { selector: o.selector } : {}),
        ...(o.bits !== '2048' ? { bits: Number(o.bits) } : {}),
        pending: !!o.pending,
      });
      console.log(`generated ${row.algorithm} key (${row.bits} bits) for ${row.domain}, selector ${row.selector}: ${describeStatus(row)}`);
      console.log('publish this DNS record:');
      console.log(row.zoneLine);
    });
  });

  withDataDir(
    dkim
      .command('import <domain>')
      .description('store an existing private key (PEM: PKCS#8 or PKCS#1 RSA, or Ed25519) for a domain')
      .requiredOption('--selector <selector>', 'the DNS selector its public key is published under')
      .requiredOption('--key <file>', 'private key file (PEM)')
      .option('--pending', 'do not sign yet: "hermes dkim rotate <domain>" activates it'),
  ).action(async (domain: string, o: D & { selector: string; key: string; pending?: boolean }) => {
    const privateKeyPem = readKeyFile(o.key);
    await withDb(o.dataDir, async (db, cfg) => {
      const row = await withKeyFile(o.key, () => importKey(db, cliActor(), masterKey(cfg), { domain, selector: o.selector, privateKeyPem, pending: !!o.pending }));
      console.log(`imported ${row.algorithm} key (${row.bits} bits) for ${row.domain}, selector ${row.selector}: ${describeStatus(row)}`);
      console.log('its DNS record (check that this is what is published):');
      console.log(row.zoneLine);
    });
  });

  withDataDir(
    dkim.command('list [domain]').description('list DKIM keys with their status and rotation dates').option('--json', 'machine-readable output'),
  ).action(async (domain: string | undefined, o: D & { json?: boolean }) => {
    await withDb(o.dataDir, async (db) => {
      const rows = await listKeys(db, cliActor(), domain);
      const view = rows.map((r) => ({
        domain: r.domain,
        selector: r.selector,
        algorithm: r.algorithm,
        bits: r.bits,
        status: r.status,
        arc: r.arc ?? '',
        created: fmtTime(ms(r.createdAt)),
        activated: fmtTime(ms(r.activatedAt)),
        retired: fmtTime(ms(r.retiredAt)),
        remove_after: fmtTime(ms(r.removeAfter)),
      }));
      if (o.json) return console.log(JSON.stringify(view, null, 2));
      printTable(view, ['domain', 'selector', 'algorithm', 'bits', 'status', 'arc', 'created', 'retired', 'remove_after'], domain ? `no DKIM keys for ${domain}` : 'no DKIM keys');
    });
  });

  withDataDir(
    dkim
      .command('dns <domain>')
      .description('print the DNS TXT records to publish for a domain (pending, active and retiring keys)')
      .option('--json', 'machine-readable output')
      .option('--check', 'look each record up in DNS (the gateway\'s resolvers) and say whether it is published'),
  ).action(async (domain: string, o: D & { json?: boolean; check?: boolean }) => {
    await withDb(o.dataDir, async (db, cfg) => {
      const resolver = o.check ? new DnsResolver({ servers: cfg.dnsServers.length ? cfg.dnsServers : undefined, cacheMaxEntries: 0 }) : null;
      const { publish, unpublish: expired } = await dnsRecords(db, cliActor(), domain, resolver ? (name) => resolver.txt(name) : undefined);
      if (o.json) {
        const view = (r: (typeof publish)[number]) => ({
          domain: r.domain,
          selector: r.selector,
          algorithm: r.algorithm,
          status: r.status,
          name: r.dnsName,
          value: r.dnsValue,
          zone: r.zoneLine,
          removeAfter: r.removeAfter,
          ...(resolver ? { dns: r.dns } : {}),
        });
        return console.log(JSON.stringify({ publish: publish.map(view), unpublish: expired.map(view) }, null, 2));
      }
      printRecords(publish);
      if (expired.length) {
        console.log('\n; no longer needed (overlap ended): remove these records');
        for (const r of expired) console.log(`; ${r.zoneLine}`);
      }
      if (resolver) {
        console.log('\nDNS check');
        // The order of "dkim list": by state, then age.
        const state = (r: DkimKeyView) => (r.status === 'expired' ? 'retiring' : r.status);
        const all = [...publish, ...expired].sort((x, y) => state(x).localeCompare(state(y)) || x.createdAt.localeCompare(y.createdAt) || x.id - y.id);
        printTable(
          all.map((r) => ({ name: r.dnsName, status: r.status, dns: r.dns })),
          ['name', 'status', 'dns'],
        );
      }
    });
  });

  withDataDir(
    dkim
      .command('rotate <domain>')
      .description(
        'replace the active key(s) of a domain: a pending key (already published) or a new one starts signing, the old one ' +
          'retires (still published, no longer signs) for the overlap period',
      )
      .option('--algorithm <alg>', 'rotate only the rsa or the ed25519 key')
      .option('--selector <selector>', 'selector of the new key (with one algorithm)')
      .option('--key <file>', 'use this private key (PEM) instead of generating one')
      .option('--bits <n>', 'RSA size of generated keys', '2048')
      .option('--prepare', 'only create pending keys to publish; run rotate again once they are in DNS')
      .option('--overlap-days <days>', 'how long retired keys stay published', String(DEFAULT_OVERLAP_DAYS)),
  ).action(
    async (
      domain: string,
      o: D & { algorithm?: string; selector?: string; key?: string; bits: string; prepare?: boolean; overlapDays: string },
    ) => {
      const overlapDays = parseOverlap(o.overlapDays);
      const privateKeyPem = o.key ? readKeyFile(o.key) : undefined;
      await withDb(o.dataDir, async (db, cfg) => {
        const res = await withKeyFile(o.key, () =>
          rotateKeys(db, cliActor(), masterKey(cfg), domain, {
            ...(o.algorithm ? { algorithm: o.algorithm } : {}),
            ...(o.selector ? { selector: o.selector } : {}),
            ...(privateKeyPem ? { privateKeyPem } : {}),
            ...(o.prepare ? { prepare: true } : {}),
            bits: Number(o.bits),
            overlapDays,
          }),
        );
        const d = normaliseDomain(domain);
        if (o.prepare) {
          console.log(`prepared ${res.added.length} pending key(s) for ${d}; publish:`);
          printRecords(res.added);
          console.log(`then run "hermes dkim rotate ${d}" (check with "hermes dkim dns ${d} --check")`);
          return;
        }
        for (const r of res.added) console.log(`now signing: ${r.selector} (${r.algorithm})`);
        for (const r of res.retired) {
          const note = (await isArcKey(db, r)) ? ' (it is the ARC sealing key: point "hermes arc enable" at the new one)' : '';
          console.log(`retired: ${r.selector} (${r.algorithm}), keep it published until ${fmtTime(ms(r.removeAfter))}${note}`);
        }
        console.log(`DNS records for ${d}:`);
        printRecords([...res.added, ...res.retired]);
      });
    },
  );

  withDataDir(
    dkim
      .command('remove <domain> [selector]')
      .description('delete a key (its DNS record can then go), or with --expired every key whose overlap has ended')
      .option('--expired', 'remove the retiring keys of the domain whose overlap period is over')
      .option('--force', 'also remove a key that is active, pending or used for ARC sealing'),
  ).action(async (domain: string, selector: string | undefined, o: D & { expired?: boolean; force?: boolean }) => {
    if (!selector && !o.expired) throw new Error('name the selector to remove, or use --expired');
    if (selector && o.expired) throw new Error('give either a selector or --expired, not both');
    await withDb(o.dataDir, async (db) => {
      if (o.expired) {
        const gone = await removeExpiredKeys(db, cliActor(), domain);
        if (!gone.length) console.log(`no expired keys for ${normaliseDomain(domain)}`);
        for (const r of gone) console.log(`removed ${r.selector} (${r.algorithm}); the record ${r.dnsName} can be deleted`);
        return;
      }
      const row = await removeKey(db, cliActor(), domain, selector!, { force: !!o.force });
      console.log(`removed ${row.selector} (${row.algorithm}, was ${row.status}); the record ${row.dnsName} can be deleted`);
    });
  });

  const arc = program.command('arc').description('ARC sealing of relayed mail with a key from the DKIM key table');
  withDataDir(
    arc
      .command('enable')
      .description('seal relayed mail (cv= from the arrival check) as d=<domain> s=<selector>')
      .requiredOption('--domain <domain>', 'sealing domain (d=)')
      .requiredOption('--selector <selector>', 'selector of an RSA key of that domain (see "hermes dkim list")'),
  ).action(async (o: D & { domain: string; selector: string }) => {
    await withDb(o.dataDir, async (db) => {
      const a = await setArc(db, cliActor(), { enabled: true, domain: o.domain, selector: o.selector });
      console.log(`ARC sealing on: d=${a.domain} s=${a.selector}`);
      if (a.warning) console.log(`warning: ${a.warning}`);
    });
  });
  withDataDir(arc.command('disable').description('stop sealing')).action(async (o: D) => {
    await withDb(o.dataDir, async (db) => {
      await setArc(db, cliActor(), { enabled: false });
      console.log('ARC sealing off');
    });
  });
  withDataDir(arc.command('status').description('show the sealing configuration')).action(async (o: D) => {
    await withDb(o.dataDir, async (db) => {
      const a = await getArc(db, cliActor());
      console.log(`ARC sealing ${a.enabled ? 'on' : 'off'}${a.domain ? `: d=${a.domain} s=${a.selector}` : ''}`);
    });
  });
}
