// `hermes selftest`: one message through the running gateway to a local sink (see
// ops/selftest/selftest.ts). Exit status 0 when it arrived, 1 otherwise.
import type { Command } from 'commander';
import { cliActor } from '../services/actor.ts';
import { runSelftest } from '../ops/selftest/selftest.ts';
import { withDataDir, withDb } from './context.ts';

export function registerSelftest(program: Command): void {
  withDataDir(
    program
      .command('selftest')
      .description('send a test message through the running gateway to a local sink and report each stage it passed')
      .option('--timeout <seconds>', 'how long to wait for delivery', (v) => Number(v), 60),
  ).action(async (o: { dataDir: string; timeout: number }) => {
    const report = await withDb(o.dataDir, (db, config) =>
      runSelftest({ config, db, actor: { ...cliActor(), name: 'cli:selftest' }, timeoutMs: o.timeout * 1000, progress: (s) => console.log(`${s.ok ? 'ok  ' : 'FAIL'}  ${s.what}`) }),
    );
    console.log(report.ok ? 'selftest passed' : 'selftest failed');
    if (!report.ok) process.exitCode = 1;
  });
}
