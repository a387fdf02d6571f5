// A private SpamAssassin daemon (spamd) for tests: its own rules directory holding only
// the Check plugin and two local rules, no user preferences (-x), no network tests
// (--local), on a free loopback port. Without the stock rule set it starts in about a
// second. spamd drops root to "nobody", so its directory is world-readable.
//
// spamd runs in the foreground as our child under `setpriv --pdeathsig KILL` (its
// prefork children exit with it); stop() ends it by its PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spamdPing } from '../../src/pipeline/filter/external/spamd-client.ts';
import { findFreePort } from './peers.ts';

export const SPAMD = '/usr/sbin/spamd';
/** A body containing this word hits HERMES_EXT_TEST (6.5 points). */
export const SPAMD_TEST_TOKEN = 'hermes-external-spam-token';
export const SPAMD_TEST_SCORE = 6.5;
/** Mail whose envelope sender (Return-Path) is this address hits HERMES_EXT_ENVFROM (0.5). */
export const SPAMD_ENVFROM = 'envelope-sender@example.org';

export interface Spamd {
  /** "127.0.0.1:<port>" (the external.spamd setting) */
  address: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
  cleanup(): void;
  log(): string;
}

const RULES = `# Hermes test rules (spamd --configpath): no stock rules, nothing from the network.
required_score 5.0
util_rb_tld com net org test example invalid
body HERMES_EXT_TEST /\\b${SPAMD_TEST_TOKEN}\\b/
describe HERMES_EXT_TEST Hermes external engine test token
score HERMES_EXT_TEST ${SPAMD_TEST_SCORE}
header HERMES_EXT_ENVFROM Return-Path =~ /<${SPAMD_ENVFROM.replace(/[.@]/g, (c) => `\\${c}`)}>/
describe HERMES_EXT_ENVFROM Envelope sender of the Hermes tests
score HERMES_EXT_ENVFROM 0.5
`;

export async function startSpamd(o: { readyTimeoutMs?: number } = {}): Promise<Spamd> {
  const dir = mkdtempSync(join(tmpdir(), 'hermes-spamd-'));
  const rules = join(dir, 'rules');
  const site = join(dir, 'site');
  mkdirSync(rules);
  mkdirSync(site);
  writeFileSync(join(rules, '50_hermes_test.cf'), RULES);
  // The Check plugin runs the rules at all; stock installs load it from v320.pre.
  writeFileSync(join(site, 'init.pre'), 'loadplugin Mail::SpamAssassin::Plugin::Check\n');
  writeFileSync(join(site, 'local.cf'), '');
  for (const d of [dir, rules, site]) chmodSync(d, 0o755);
  const port = await findFreePort();
  const args = [
    '--pdeathsig', 'KILL', '--', SPAMD,
    `--configpath=${rules}`, `--siteconfigpath=${site}`,
    '-x', '--local', '--syslog=stderr',
    '-i', '127.0.0.1', '-p', String(port),
    '--max-children=2', '--min-children=1', '-u', 'nobody',
  ];
  const child: ChildProcess = spawn('/usr/bin/setpriv', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
  const exited = once(child, 'exit');
  const pid = child.pid!;
  const onExit = () => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  };
  process.on('exit', onExit);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    process.off('exit', onExit);
  };
  const cleanup = () => rmSync(dir, { recursive: true, force: true });

  const address = `127.0.0.1:${port}`;
  const deadline = Date.now() + (o.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      cleanup();
      throw new Error(`spamd exited during startup (${child.exitCode ?? child.signalCode}): ${stderr}`);
    }
    try {
      await spamdPing({ address, timeoutMs: 2000 });
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        await stop();
        cleanup();
        throw new Error(`spamd did not answer PING within ${o.readyTimeoutMs ?? 60_000} ms: ${(err as Error).message}\n${stderr}`);
      }
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  return { address, port, pid, stop, cleanup, log: () => stderr };
}
