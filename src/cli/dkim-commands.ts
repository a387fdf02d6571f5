// DKIM signing keys and ARC sealing from the command line. Keys live in the database,
// their private halves sealed with the install's master key; every change applies to
// running gateways at their next SMTP session.
import { readInputFile } from './read-input.ts';
import type { Command } from 'commander';
import type { LoadedConfig } from '../config/bootstrap.ts';
import { loadSettings, setSettings } from '../config/settings.ts';
import type { Db } from '../db/database.ts';
import {
  addDkimKey,
  DEFAULT_OVERLAP_DAYS,
  displayStatus,
  findDkimKey,
  listDkimKeys,
  normaliseSelector,
  parseDkimAlgorithm,
  removeDkimKey,
  removeExpiredDkimKeys,
  rotateDkimKeys,
  type DkimKeyRow,
} from '../db/repos/dkim-keys.ts';
import { normaliseDomain } from '../db/repos/relay-policy.ts';
import { DnsResolver } from '../dns/resolver.ts';
import { loadMasterKey, type MasterKey } from '../keys/master-key.ts';
import { dkimDnsName, dkimZoneLine, generateDkimKey, importDkimPrivateKey, type GeneratedDkimKey } from '../pipeline/sign/dkim-keys.ts';
import { fmtTime, printTable, withDataDir, withDb } from './context.ts';

type D = { dataDir: string };

function masterKey(cfg: LoadedConfig): MasterKey {
  try {
    return loadMasterKey(cfg.masterKeyFile);
  } catch (err) {
    throw new Error(`cannot read the master key ${cfg.masterKeyFile} (${(err as Error).message}); run "hermes init" to create it`);
  }
}

function readKeyFile(file: string): GeneratedDkimKey {
  const text = readInputFile(file, { what: 'key file' }).toString('utf8');
  try {
    return importDkimPrivateKey(text);
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
}

function parseOverlap(days: string): number {
  const n = Number(days);
  if (!Number.isFinite(n) || n < 0 || n > 365) throw new Error(`--overlap-days must be a number of days from 0 to 365 (got "${days}")`);
  return n * 86_400_000;
}

function describeStatus(r: DkimKeyRow, now = Date.now()): string {
  const st = displayStatus(r, now);
  if (st === 'active') return 'active: signs';
  if (st === 'pending') return 'pending: publish, then "hermes dkim rotate" activates it';
  if (st === 'retiring') return `retiring: keep published until ${fmtTime(r.remove_after)}, no longer signs`;
  return `expired: overlap ended ${fmtTime(r.remove_after)}; unpublish it and run "hermes dkim remove ${r.domain} ${r.selector}"`;
}

function printRecords(rows: DkimKeyRow[]): void {
  for (const r of rows) {
    console.log(`; ${r.domain} ${r.algorithm} ${r.bits} bits, selector ${r.selector}: ${describeStatus(r)}`);
    console.log(dkimZoneLine(r.selector, r.domain, r.dns_txt));
  }
}

async function arcUses(db: Db, r: { domain: string; selector: string }): Promise<boolean> {
  const s = await loadSettings(db);
  return s['arc.domain']?.toLowerCase() === r.domain && s['arc.selector']?.toLowerCase() === r.selector;
}

type Published = 'published' | 'missing' | 'different' | string;

async function checkPublished(resolver: DnsResolver, r: DkimKeyRow): Promise<Published> {
  const want = /(?:^|;)\s*p=([^;]*)/.exec(r.dns_txt)?.[1]?.replace(/\s+/g, '');
  try {
    const recs = (await resolver.txt(dkimDnsName(r.selector, r.domain))).map((parts) => parts.join(''));
    const keys = recs.map((t) => /(?:^|;)\s*p=([^;]*)/.exec(t)?.[1]?.replace(/\s+/g, ''));
    if (keys.includes(want)) return recs.length > 1 ? 'published (with other TXT records at the same name)' : 'published';
    return 'different';
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (code === 'ENOTFOUND' || code === 'ENODATA') return 'missing';
    return `DNS error ${code || (err as Error).message}`;
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
    const algorithm = parseDkimAlgorithm(o.algorithm);
    const d = normaliseDomain(domain);
    const selector = o.selector ? normaliseSelector(o.selector) : undefined;
    const bits = Number(o.bits);
    if (algorithm === 'ed25519-sha256' && o.bits !== '2048') throw new Error('--bits applies to RSA keys only');
    await withDb(o.dataDir, async (db, cfg) => {
      const mk = masterKey(cfg);
      const key = await generateDkimKey(algorithm, bits);
      const row = await addDkimKey(db, mk, { domain: d, ...(selector ? { selector } : {}), key, status: o.pending ? 'pending' : 'active' });
      console.log(`generated ${row.algorithm} key (${row.bits} bits) for ${row.domain}, selector ${row.selector}: ${describeStatus(row)}`);
      console.log('publish this DNS record:');
      console.log(dkimZoneLine(row.selector, row.domain, row.dns_txt));
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
    const d = normaliseDomain(domain);
    const selector = normaliseSelector(o.selector);
    const key = readKeyFile(o.key);
    await withDb(o.dataDir, async (db, cfg) => {
      const row = await addDkimKey(db, masterKey(cfg), { domain: d, selector, key, status: o.pending ? 'pending' : 'active' });
      console.log(`imported ${row.algorithm} key (${row.bits} bits) for ${row.domain}, selector ${row.selector}: ${describeStatus(row)}`);
      console.log('its DNS record (check that this is what is published):');
      console.log(dkimZoneLine(row.selector, row.domain, row.dns_txt));
    });
  });

  withDataDir(
    dkim.command('list [domain]').description('list DKIM keys with their status and rotation dates').option('--json', 'machine-readable output'),
  ).action(async (domain: string | undefined, o: D & { json?: boolean }) => {
    await withDb(o.dataDir, async (db) => {
      const rows = await listDkimKeys(db, domain);
      const s = await loadSettings(db);
      const arcKey = s['arc.domain'] && s['arc.selector'] ? `${s['arc.domain'].toLowerCase()} ${s['arc.selector'].toLowerCase()}` : null;
      const view = rows.map((r) => ({
        domain: r.domain,
        selector: r.selector,
        algorithm: r.algorithm,
        bits: r.bits,
        status: displayStatus(r),
        arc: arcKey === `${r.domain} ${r.selector}` ? (s['arc.enabled'] ? 'seals' : 'configured (off)') : '',
        created: fmtTime(r.created_at),
        activated: fmtTime(r.activated_at),
        retired: fmtTime(r.retired_at),
        remove_after: fmtTime(r.remove_after),
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
      const all = await listDkimKeys(db, domain);
      if (!all.length) throw new Error(`no DKIM keys for ${normaliseDomain(domain)}; create one with "hermes dkim generate ${normaliseDomain(domain)}"`);
      const now = Date.now();
      const publish = all.filter((r) => displayStatus(r, now) !== 'expired');
      const expired = all.filter((r) => displayStatus(r, now) === 'expired');
      const resolver = o.check ? new DnsResolver({ servers: cfg.dnsServers.length ? cfg.dnsServers : undefined, cacheMaxEntries: 0 }) : null;
      const checks = new Map<number, Published>();
      if (resolver) for (const r of all) checks.set(r.id, await checkPublished(resolver, r));
      if (o.json) {
        const view = (r: DkimKeyRow) => ({
          domain: r.domain,
          selector: r.selector,
          algorithm: r.algorithm,
          status: displayStatus(r, now),
          name: dkimDnsName(r.selector, r.domain),
          value: r.dns_txt,
          zone: dkimZoneLine(r.selector, r.domain, r.dns_txt),
          removeAfter: r.remove_after === null ? null : new Date(Number(r.remove_after)).toISOString(),
          ...(resolver ? { dns: checks.get(r.id) } : {}),
        });
        return console.log(JSON.stringify({ publish: publish.map(view), unpublish: expired.map(view) }, null, 2));
      }
      printRecords(publish);
      if (expired.length) {
        console.log('\n; no longer needed (overlap ended): remove these records');
        for (const r of expired) console.log(`; ${dkimZoneLine(r.selector, r.domain, r.dns_txt)}`);
      }
      if (resolver) {
        console.log('\nDNS check');
        printTable(
          all.map((r) => ({ name: dkimDnsName(r.selector, r.domain), status: displayStatus(r, now), dns: checks.get(r.id) })),
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
      const d = normaliseDomain(domain);
      const overlapMs = parseOverlap(o.overlapDays);
      const key = o.key ? readKeyFile(o.key) : undefined;
      const bits = Number(o.bits);
      await withDb(o.dataDir, async (db, cfg) => {
        const mk = masterKey(cfg);
        const res = await rotateDkimKeys(db, mk, d, {
          ...(o.algorithm ? { algorithm: parseDkimAlgorithm(o.algorithm) } : {}),
          ...(o.selector ? { selector: o.selector } : {}),
          ...(key ? { key } : {}),
          ...(o.prepare ? { prepare: true } : {}),
          overlapMs,
          generate: (alg) => generateDkimKey(alg, bits),
        });
        if (o.prepare) {
          console.log(`prepared ${res.added.length} pending key(s) for ${d}; publish:`);
          printRecords(res.added);
          console.log(`then run "hermes dkim rotate ${d}" (check with "hermes dkim dns ${d} --check")`);
          return;
        }
        for (const r of res.added) console.log(`now signing: ${r.selector} (${r.algorithm})`);
        for (const r of res.retired) {
          const note = (await arcUses(db, r)) ? ' (it is the ARC sealing key: point "hermes arc enable" at the new one)' : '';
          console.log(`retired: ${r.selector} (${r.algorithm}), keep it published until ${fmtTime(r.remove_after)}${note}`);
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
    const d = normaliseDomain(domain);
    if (!selector && !o.expired) throw new Error('name the selector to remove, or use --expired');
    if (selector && o.expired) throw new Error('give either a selector or --expired, not both');
    await withDb(o.dataDir, async (db) => {
      if (o.expired) {
        const gone = await removeExpiredDkimKeys(db, d);
        if (!gone.length) console.log(`no expired keys for ${d}`);
        for (const r of gone) console.log(`removed ${r.selector} (${r.algorithm}); the record ${dkimDnsName(r.selector, r.domain)} can be deleted`);
        return;
      }
      const row = await findDkimKey(db, d, selector!);
      if (!row) throw new Error(`no DKIM key ${normaliseSelector(selector!)} for ${d} (see "hermes dkim list ${d}")`);
      if (!o.force) {
        if (await arcUses(db, row)) throw new Error(`${row.selector}._domainkey.${d} is the ARC sealing key; "hermes arc disable" or point arc at another key first (or use --force)`);
        if (row.status === 'active') throw new Error(`${row.selector} is active: mail from ${d} is signed with it; rotate first ("hermes dkim rotate ${d}") or use --force`);
        if (row.status === 'pending') throw new Error(`${row.selector} is pending (not yet signing); use --force to discard it`);
        if (displayStatus(row) === 'retiring') {
          throw new Error(`${row.selector} retired on ${fmtTime(row.retired_at)}; mail signed with it may still be in transit until ${fmtTime(row.remove_after)}; use --force to remove it now`);
        }
      }
      await removeDkimKey(db, d, row.selector);
      console.log(`removed ${row.selector} (${row.algorithm}, was ${displayStatus(row)}); the record ${dkimDnsName(row.selector, d)} can be deleted`);
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
    const d = normaliseDomain(o.domain);
    const s = normaliseSelector(o.selector);
    await withDb(o.dataDir, async (db) => {
      const row = await findDkimKey(db, d, s);
      if (!row) throw new Error(`no DKIM key ${s} for ${d}; create one with "hermes dkim generate ${d} --selector ${s}"`);
      if (row.algorithm !== 'rsa-sha256') throw new Error(`ARC sealing needs an RSA key (RFC 8617 allows only rsa-sha256); ${s}._domainkey.${d} is ${row.algorithm}`);
      if (row.status === 'pending') throw new Error(`${s}._domainkey.${d} is pending: publish it and activate it with "hermes dkim rotate ${d}" first`);
      await setSettings(db, { 'arc.domain': d, 'arc.selector': s, 'arc.enabled': true });
      console.log(`ARC sealing on: d=${d} s=${s}`);
      if (displayStatus(row) !== 'active') console.log(`warning: this key is ${displayStatus(row)}; keep its record published as long as it seals`);
    });
  });
  withDataDir(arc.command('disable').description('stop sealing')).action(async (o: D) => {
    await withDb(o.dataDir, async (db) => {
      await setSettings(db, { 'arc.enabled': false });
      console.log('ARC sealing off');
    });
  });
  withDataDir(arc.command('status').description('show the sealing configuration')).action(async (o: D) => {
    await withDb(o.dataDir, async (db) => {
      const s = await loadSettings(db);
      console.log(`ARC sealing ${s['arc.enabled'] ? 'on' : 'off'}${s['arc.domain'] ? `: d=${s['arc.domain']} s=${s['arc.selector']}` : ''}`);
    });
  });
}
