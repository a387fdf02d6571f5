import type { Command } from 'commander';
import { LATEST_SCHEMA_VERSION, schemaVersion } from '../db/migrate.ts';
import { redactDatabaseLocation } from '../db/location.ts';
import { withDataDir, withDb, printTable, fmtTime } from './context.ts';
import { leasesByOwner, listClusterNodes } from '../db/repos/cluster-nodes.ts';
import { HEARTBEAT_INTERVAL_MS } from '../ops/node-heartbeat.ts';

/** A node is shown "silent" after three missed heartbeats. */
const NODE_DOWN_AFTER_MS = 3 * HEARTBEAT_INTERVAL_MS;

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
      // Every gateway process that shares this database, with its last heartbeat.
      const now = Date.now();
      const leases = await leasesByOwner(db, now);
      const nodes = (await listClusterNodes(db)).map((n) => ({
        node: n.name,
        host: n.hostname,
        pid: n.pid,
        version: n.version,
        started: fmtTime(n.started_at),
        heartbeat: `${fmtTime(n.heartbeat_at)} (${Math.round((now - n.heartbeat_at) / 1000)} s ago)`,
        state: now - n.heartbeat_at <= NODE_DOWN_AFTER_MS ? 'up' : 'silent',
        leases: leases.get(n.name) ?? 0,
      }));
      console.log('nodes:');
      printTable(nodes, ['node', 'host', 'pid', 'version', 'started', 'heartbeat', 'state', 'leases'], '  (no gateway has started on this database yet)');
    });
  });
}
