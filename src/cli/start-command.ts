import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { configPath, loadConfig } from '../config/bootstrap.ts';
import { createLogger } from '../log.ts';
import { runGateway, workerCount } from '../cluster.ts';
import { initDataDir } from './init-command.ts';
import { withDataDir } from './context.ts';

export function registerStart(program: Command): void {
  withDataDir(
    program
      .command('start')
      .description('run the gateway in the foreground (SMTP listener and delivery) until SIGTERM or Ctrl-C')
      .option('--init', 'create the data directory first if it does not exist')
      .option('--stop-timeout <seconds>', 'how long sessions and deliveries may finish after SIGTERM', '10')
      .option('--workers <n>', 'processes sharing the listener (default: the bootstrap file\'s "workers"; 0 = one per core)'),
  ).action(async (o: { dataDir: string; init?: boolean; stopTimeout: string; workers?: string }) => {
    if (o.init && !existsSync(configPath(o.dataDir))) await initDataDir({ dataDir: o.dataDir }, (s) => console.error(s));
    const config = loadConfig(o.dataDir);
    const log = createLogger(config.log.level);
    const workers = workerCount(config, o.workers === undefined ? undefined : Number(o.workers));
    await runGateway({ config, log, workers, stopTimeoutMs: Number(o.stopTimeout) * 1000 });
  });
}
