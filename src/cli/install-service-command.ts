// `hermes install-service`: writes the systemd unit for this installation.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { loadConfig } from '../config/bootstrap.ts';
import { isPostgresLocation } from '../db/location.ts';
import { systemdUnit } from '../ops/systemd-unit.ts';
import { DEFAULT_DATA_DIR } from './context.ts';

interface Options {
  dataDir: string;
  user: string;
  path: string;
  print?: boolean;
}

/** bin/hermes.js of this installation (this file is dist/cli/… or src/cli/…). */
const HERMES_BIN = fileURLToPath(new URL('../../bin/hermes.js', import.meta.url));

function userExists(name: string): boolean {
  try {
    return readFileSync('/etc/passwd', 'utf8').split('\n').some((l) => l.split(':')[0] === name);
  } catch {
    return false;
  }
}

export function registerInstallService(program: Command): void {
  program
    .command('install-service')
    .description('write a systemd unit that runs this gateway as an unprivileged user')
    .option('-d, --data-dir <dir>', 'gateway data directory', DEFAULT_DATA_DIR)
    .option('--user <name>', 'system user the gateway runs as', 'hermes')
    .option('--path <file>', 'where to write the unit', '/etc/systemd/system/hermes.service')
    .option('--print', 'print the unit to stdout instead of writing it')
    .action((o: Options) => {
      if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(o.user)) throw new Error(`invalid user name: ${o.user}`);
      const cfg = loadConfig(o.dataDir);
      const unit = systemdUnit({
        node: process.execPath,
        hermesBin: HERMES_BIN,
        dataDir: cfg.dataDir,
        user: o.user,
        extraWritablePaths: [cfg.storage.spool, cfg.storage.data, cfg.storage.archive, ...(isPostgresLocation(cfg.storage.database) ? [] : [resolve(cfg.storage.database, '..')])],
      });
      if (o.print) {
        process.stdout.write(unit);
        return;
      }
      writeFileSync(o.path, unit, { mode: 0o644 });
      console.log(`wrote ${o.path}`);
      const steps: string[] = [];
      if (!userExists(o.user)) steps.push(`useradd --system --home-dir ${cfg.dataDir} --shell /usr/sbin/nologin ${o.user}`);
      steps.push(`chown -R ${o.user}:${o.user} ${cfg.dataDir}`, 'systemctl daemon-reload', 'systemctl enable --now hermes', 'journalctl -u hermes -f');
      if (!existsSync(HERMES_BIN.replace(/bin\/hermes\.js$/, 'dist/cli/main.js'))) steps.unshift('npm run build   # the unit runs the built dist/');
      console.log(`next:\n${steps.map((s) => `  ${s}`).join('\n')}`);
    });
}
