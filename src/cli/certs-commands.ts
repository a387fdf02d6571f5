// `hermes certs`: the TLS certificates the listeners serve (MX STARTTLS, submission,
// HTTPS), chosen by SNI. Every change applies to a running gateway within seconds.
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import pino from 'pino';
import type { LoadedConfig } from '../config/bootstrap.ts';
import { loadMasterKey, type MasterKey } from '../keys/master-key.ts';
import { cliActor } from '../services/actor.ts';
import {
  createCsr,
  importCertificate,
  listCertificates,
  removeCertificate,
  renewCertificate,
  renewDueCertificates,
  requestAcmeCertificate,
  setDefault,
  suggestedNames,
  type CertificateView,
} from '../services/certificate-service.ts';
import { trustAcmeCa } from '../tls/acme.ts';
import { printTable, withDataDir, withDb } from './context.ts';
import { readInputFile } from './read-input.ts';

type D = { dataDir: string };

function masterKey(cfg: LoadedConfig): MasterKey {
  try {
    return loadMasterKey(cfg.masterKeyFile);
  } catch (err) {
    throw new Error(`cannot read the master key ${cfg.masterKeyFile} (${(err as Error).message}); run "hermes init" to create it`);
  }
}

const cliLog = () => pino({ level: process.env.HERMES_LOG_LEVEL ?? 'warn' }, pino.destination(2));
const day = (iso: string | null) => (iso ? iso.slice(0, 10) : '-');

function describe(v: CertificateView): string {
  const what = v.status === 'pending' ? 'CSR waiting for its certificate' : `${v.status}, valid until ${v.notAfter}`;
  return `certificate ${v.id} (${v.source}${v.isDefault ? ', default' : ''}) for ${v.names.join(', ')}: ${what}`;
}

function passphrase(o: { passphraseFile?: string }): string | undefined {
  if (o.passphraseFile) return readInputFile(o.passphraseFile, { what: 'passphrase file' }).toString('utf8').replace(/\r?\n$/, '');
  return process.env.HERMES_CERT_PASSPHRASE;
}

/** Names given plus, with --autoconfig, the host name and every relay domain's autoconfig/autodiscover names. */
async function namesWith(db: Parameters<typeof suggestedNames>[0], cfg: LoadedConfig, names: string[], autoconfig: boolean | undefined): Promise<string[]> {
  return autoconfig ? [...names, ...(await suggestedNames(db, cliActor(), cfg.hostname))] : names;
}

export function registerCerts(program: Command): void {
  const certs = program.command('certs').description('TLS certificates (import, CSR, ACME, renewal); the listeners pick them by SNI');

  withDataDir(certs.command('list').description('stored certificates, their names, dates and renewal state').option('--json', 'machine-readable output')).action(async (o: D & { json?: boolean }) => {
    await withDb(o.dataDir, async (db) => {
      const rows = await listCertificates(db, cliActor());
      if (o.json) return console.log(JSON.stringify(rows, null, 2));
      printTable(
        rows.map((r) => ({
          id: r.id,
          default: r.isDefault ? 'yes' : '',
          source: r.source,
          status: r.status,
          names: r.names.join(','),
          expires: day(r.notAfter),
          issuer: r.issuer ?? '-',
          renewal: r.acme ? (r.acme.lastError ? `FAILED ${r.acme.failures}x, next ${r.acme.nextAttempt ?? '-'}: ${r.acme.lastError}` : `from ${day(r.acme.renewAfter)}`) : '',
        })),
        ['id', 'default', 'source', 'status', 'names', 'expires', 'issuer', 'renewal'],
        '(no certificates: the listeners serve the self-signed bootstrap certificate)',
      );
    });
  });

  withDataDir(
    certs
      .command('import <file>')
      .description('import a certificate with its chain: PEM (certificate, chain, key in one or more files) or PKCS#12 (.p12/.pfx); without a key, the signed certificate for a pending CSR')
      .option('--key <file>', 'the private key (PEM), when not in <file>')
      .option('--passphrase-file <file>', 'passphrase of the PKCS#12 file or encrypted key (or env HERMES_CERT_PASSPHRASE)')
      .option('--name <name...>', 'names the certificate must cover (refused otherwise)')
      .option('--default', 'serve it to clients that ask for no (or an unknown) name'),
  ).action(async (file: string, o: D & { key?: string; passphraseFile?: string; name?: string[]; default?: boolean }) => {
    const data = readInputFile(file, { what: 'certificate file', stdin: true });
    const isPem = data.includes('-----BEGIN');
    const pass = passphrase(o);
    await withDb(o.dataDir, async (db, cfg) => {
      const v = await importCertificate(db, cliActor(), masterKey(cfg), {
        ...(isPem ? { pem: data.toString('utf8') } : { pkcs12: data }),
        ...(o.key ? { keyPem: readInputFile(o.key, { what: 'key file' }).toString('utf8') } : {}),
        ...(pass !== undefined ? { passphrase: pass } : {}),
        ...(o.name ? { names: o.name } : {}),
        isDefault: !!o.default,
      });
      console.log(`imported ${describe(v)}`);
    });
  });

  withDataDir(
    certs
      .command('csr [names...]')
      .description('make a key (kept sealed here) and a CSR for a CA; import the signed certificate with "hermes certs import"')
      .option('--autoconfig', 'add the host name and autoconfig.<domain>, autodiscover.<domain> for every relay domain')
      .option('--key-type <type>', 'ec-p256, ec-p384, rsa-2048, rsa-3072 or rsa-4096', 'ec-p256')
      .option('--out <file>', 'write the CSR to this file instead of printing it'),
  ).action(async (names: string[], o: D & { autoconfig?: boolean; keyType: string; out?: string }) => {
    await withDb(o.dataDir, async (db, cfg) => {
      const all = await namesWith(db, cfg, names, o.autoconfig);
      if (!all.length) throw new Error(`give the names, e.g. "hermes certs csr ${(await suggestedNames(db, cliActor(), cfg.hostname)).join(' ')}" (or --autoconfig for these)`);
      const v = await createCsr(db, cliActor(), masterKey(cfg), { names: all, keyType: o.keyType });
      console.error(`${describe(v)}; give this CSR to your CA:`);
      if (o.out) writeFileSync(o.out, v.csr!);
      else process.stdout.write(v.csr!);
    });
  });

  withDataDir(
    certs
      .command('acme [names...]')
      .description('get a certificate from an ACME CA now (http-01: the gateway must be running and reachable on port 80 for each name)')
      .option('--directory <url>', 'letsencrypt, letsencrypt-staging, or a directory URL', 'letsencrypt')
      .option('--email <address>', 'contact for the ACME account (expiry notices)')
      .option('--challenge <type>', 'http-01', 'http-01')
      .option('--autoconfig', 'add the host name and autoconfig/autodiscover names of every relay domain')
      .option('--key-type <type>', 'ec-p256, ec-p384, rsa-2048, rsa-3072 or rsa-4096', 'ec-p256')
      .option('--default', 'serve it to clients that ask for no (or an unknown) name'),
  ).action(async (names: string[], o: D & { directory: string; email?: string; challenge: string; autoconfig?: boolean; keyType: string; default?: boolean }) => {
    await withDb(o.dataDir, async (db, cfg) => {
      trustAcmeCa(cfg.acme.caFile);
      const all = await namesWith(db, cfg, names, o.autoconfig);
      const v = await requestAcmeCertificate(db, cliActor(), masterKey(cfg), { names: all.length ? all : [cfg.hostname], directory: o.directory, challenge: o.challenge, keyType: o.keyType, isDefault: !!o.default, ...(o.email ? { email: o.email } : {}) }, cliLog());
      console.log(`issued ${describe(v)}; renewed automatically from ${day(v.acme?.renewAfter ?? null)}`);
    });
  });

  withDataDir(certs.command('renew [id]').description('renew an ACME certificate now (or, with --due, every one within 30 days of expiry)').option('--due', 'renew every certificate that is due')).action(
    async (id: string | undefined, o: D & { due?: boolean }) => {
      await withDb(o.dataDir, async (db, cfg) => {
        trustAcmeCa(cfg.acme.caFile);
        if (o.due || id === undefined) {
          const r = await renewDueCertificates(db, masterKey(cfg), cliLog(), cliActor());
          for (const v of r.renewed) console.log(`renewed ${describe(v)}`);
          for (const f of r.failed) console.log(`FAILED certificate ${f.id} (${f.names.join(', ')}): ${f.error}`);
          if (!r.renewed.length && !r.failed.length) console.log('no certificate is due for renewal');
          if (r.failed.length) process.exitCode = 1;
          return;
        }
        const v = await renewCertificate(db, cliActor(), masterKey(cfg), Number(id), cliLog());
        console.log(`renewed ${describe(v)}`);
      });
    },
  );

  withDataDir(certs.command('default <id>').description('serve this certificate to clients that ask for no (or an unknown) name')).action(async (id: string, o: D) => {
    await withDb(o.dataDir, async (db) => console.log(`default: ${describe(await setDefault(db, cliActor(), Number(id)))}`));
  });

  withDataDir(certs.command('remove <id>').description('remove a certificate (and its key); the listeners stop serving it at once')).action(async (id: string, o: D) => {
    await withDb(o.dataDir, async (db) => console.log(`removed ${describe(await removeCertificate(db, cliActor(), Number(id)))}`));
  });
}
