import type { Command } from 'commander';
import { LATEST_SCHEMA_VERSION, schemaVersion } from '../db/migrate.ts';
import { redactDatabaseLocation } from '../db/location.ts';
import { withDataDir, withDb, printTable } from './context.ts';

export function registerStatus(program: Command): void {
  withDataDir(program.command('status').description('show configuration, schema version and queue summary')).action(async (o: { dataDir: string }) => {
    await withDb(o.dataDir, async (db, cfg) => {
      console.log(`data directory  ${cfg.dataDir}`);
      console.log(`host name       ${cfg.hostname}`);
      console.log(`SMTP listener   ${cfg.smtp.mx.host}:${cfg.smtp.mx.port}`);
      console.log(`submission      ${cfg.smtp.submission ? `${cfg.smtp.submission.host}:${cfg.smtp.submission.port} (STARTTLS)` : 'off'}, ${cfg.smtp.submissions ? `${cfg.smtp.submissions.host}:${cfg.smtp.submissions.port} (implicit TLS)` : 'implicit TLS off'}`);
      console.log(`database        ${redactDatabaseLocation(cfg.storage.database)}`);
      console.log(`schema version  ${await schemaVersion(db)} (latest ${LATEST_SCHEMA_VERSION})`);
      const counts = await db.selectFrom('recipients').select(['status', (eb) => eb.fn.countAll<number>().as('count')]).groupBy('status').execute();
      const domains = await db.selectFrom('relay_domains').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
      const nets = await db.selectFrom('relay_networks').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
      console.log(`relay domains   ${Number(domains?.n ?? 0)}`);
      console.log(`relay networks  ${Number(nets?.n ?? 0)}`);
      console.log('recipients by delivery status:');
      printTable(counts, ['status', 'count'], '  (no messages yet)');
    });
  });
}
