// Encryption keys from the command line: S/MIME certificates (and OpenPGP keys) per
// address, trust anchors, and the internal CA. Private keys are sealed with the master
// key when stored; exports give public halves only. Changes apply to running gateways
// at once (config_serial).
import type { Command } from 'commander';
import type { LoadedConfig } from '../config/bootstrap.ts';
import type { Db } from '../db/database.ts';
import { loadMasterKey, type MasterKey } from '../keys/master-key.ts';
import { cliActor } from '../services/actor.ts';
import { exportKey, generateKey, importKeys, listKeys, revokeKey, type EncryptionKeyView } from '../services/encryption-key-service.ts';
import { readInputFile } from './read-input.ts';
import { printTable, withDataDir, withDb } from './context.ts';

type D = { dataDir: string };

function masterKey(cfg: LoadedConfig): MasterKey {
  try {
    return loadMasterKey(cfg.masterKeyFile);
  } catch (err) {
    throw new Error(`cannot read the master key ${cfg.masterKeyFile} (${(err as Error).message}); run "hermes init" to create it`);
  }
}

async function isLocal(db: Db): Promise<(d: string) => boolean> {
  const domains = new Set((await db.selectFrom('relay_domains').select('domain').execute()).map((r) => r.domain));
  return (d) => domains.has(d);
}

function print(rows: EncryptionKeyView[], json: boolean): void {
  if (json) {
    console.log(JSON.stringify(rows, null, 2));
    return;
  }
  printTable(
    rows.map((r) => ({
      id: r.id,
      address: r.address || (r.isCa ? '(trust anchor)' : '-'),
      kind: r.kind,
      fingerprint: r.fingerprint.slice(0, 16),
      source: r.source,
      private: r.hasPrivateKey ? 'yes' : 'no',
      expires: r.notAfter?.slice(0, 10) ?? '-',
      status: r.status,
      subject: r.subject,
    })),
    ['id', 'address', 'kind', 'fingerprint', 'source', 'private', 'expires', 'status', 'subject'],
    '(no keys)',
  );
  for (const r of rows) if (r.warning && r.status !== 'revoked') console.error(`warning: ${r.kind} key ${r.fingerprint.slice(0, 16)} of ${r.address || 'a trust anchor'} ${r.warning}`);
}

export function registerEncryption(program: Command): void {
  const enc = program.command('encryption').description('Encryption of outbound mail (S/MIME, OpenPGP, PDF) and decryption of inbound mail: see docs/encryption.md');
  const keys = enc.command('keys').description('the key store: certificates and keys per address, trust anchors, the internal CA');

  withDataDir(
    keys
      .command('list')
      .description('list keys with their expiry (warnings for those expiring within encryption.expiryWarningDays)')
      .option('--address <address>', 'only this address')
      .option('--domain <domain>', 'only addresses of this domain')
      .option('--kind <kind>', 'smime or pgp')
      .option('--expiring', 'only keys that expire soon or have expired')
      .option('--revoked', 'include revoked keys')
      .option('--json', 'print JSON'),
  ).action(async (o: D & { address?: string; domain?: string; kind?: string; expiring?: boolean; revoked?: boolean; json?: boolean }) =>
    withDb(o.dataDir, async (db) => {
      print(await listKeys(db, cliActor(), { ...(o.address ? { address: o.address } : {}), ...(o.domain ? { domain: o.domain } : {}), ...(o.kind ? { kind: o.kind } : {}), expiring: !!o.expiring, includeRevoked: !!o.revoked }), !!o.json);
    }),
  );

  withDataDir(
    keys
      .command('import <file>')
      .description('import a certificate (PEM, DER), a PKCS#12 file with its private key (--password), or trust anchors (--ca); "-" reads standard input')
      .option('--kind <kind>', 'smime or pgp', 'smime')
      .option('--address <address>', 'store it for this address only (it must be one the key names)')
      .option('--password <password>', 'PKCS#12 password (env HERMES_KEY_PASSWORD)')
      .option('--ca', 'trust these CA certificates: certificates they issue are accepted (harvesting, encryption)')
      .option('--json', 'print JSON'),
  ).action(async (file: string, o: D & { kind: string; address?: string; password?: string; ca?: boolean; json?: boolean }) =>
    withDb(o.dataDir, async (db, cfg) => {
      const data = readInputFile(file, { what: 'key file', stdin: true });
      const password = o.password ?? process.env.HERMES_KEY_PASSWORD;
      const rows = await importKeys(db, cliActor(), masterKey(cfg), o.kind, { data, ...(password !== undefined ? { password } : {}), ...(o.address ? { address: o.address } : {}), ca: !!o.ca });
      print(rows, !!o.json);
    }),
  );

  withDataDir(
    keys
      .command('export [key]')
      .description('print the public half of a key (id or fingerprint): PEM certificate chain or armored key; --ca: the internal CA certificate, for recipients to trust')
      .option('--ca', 'the internal CA certificate'),
  ).action(async (key: string | undefined, o: D & { ca?: boolean }) =>
    withDb(o.dataDir, async (db) => {
      if (!key && !o.ca) throw new Error('name a key (id or fingerprint) or use --ca');
      process.stdout.write((await exportKey(db, cliActor(), o.ca ? { ca: true } : key!)).publicMaterial);
    }),
  );

  withDataDir(
    keys
      .command('generate <address>')
      .description('make a key for an internal address: S/MIME, a certificate from the internal CA (made on first use)')
      .option('--kind <kind>', 'smime or pgp', 'smime')
      .option('--json', 'print JSON'),
  ).action(async (address: string, o: D & { kind: string; json?: boolean }) =>
    withDb(o.dataDir, async (db, cfg) => {
      print([await generateKey(db, cliActor(), masterKey(cfg), o.kind, address, { hostname: cfg.hostname, isLocalDomain: await isLocal(db) })], !!o.json);
    }),
  );

  withDataDir(
    keys
      .command('revoke <key>')
      .description('revoke a key (id or fingerprint) for every address it is stored for: it is no longer used or trusted')
      .option('--json', 'print JSON'),
  ).action(async (key: string, o: D & { json?: boolean }) =>
    withDb(o.dataDir, async (db) => {
      print(await revokeKey(db, cliActor(), key), !!o.json);
    }),
  );
}
