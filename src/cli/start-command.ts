import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { configPath, loadConfig } from '../config/bootstrap.ts';
import { createLogger } from '../log.ts';
import { Gateway } from '../gateway.ts';
import { initDataDir } from './init-command.ts';
import { withDataDir } from './context.ts';

export function registerStart(program: Command): void {
  withDataDir(
    program
      .command('start')
      .description('run the gateway in the foreground (SMTP listener and delivery) until SIGTERM or Ctrl-C')
      .option('--init', 'create the data directory first if it does not exist')
      .option('--stop-timeout <seconds>', 'how long sessions and deliveries may finish after SIGTERM', '10'),
  ).action(async (o: { dataDir: string; init?: boolean; stopTimeout: string }) => {
    if (o.init && !existsSync(configPath(o.dataDir))) await initDataDir({ dataDir: o.dataDir }, (s) => console.error(s));
    const config = loadConfig(o.dataDir);
    const log = createLogger(config.log.level);
    const gw = await Gateway.open({ config, log });
    await gw.start();
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping: no new sessions, finishing those under way');
      gw.stop(Number(o.stopTimeout) * 1000).then(
        () => {
          log.info('stopped; the spool is kept and resumes at the next start');
          process.exit(0);
        },
        (err: unknown) => {
          log.error({ err }, 'error while stopping');
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}
