// A private SpamAssassin daemon (spamd) for tests: its own rules directory holding only
// the Check plugin and two local rules, no user preferences (-x), no network tests
// (--local), on a free loopback port. Without the stock rule set it starts in about a
// second. spamd drops root to "nobody", so its directory is world-readable.
//
// spamd runs in the foreground as our child under `setpriv --pdeathsig KILL` (its
// prefork children exit with it); stop() ends it by its PID.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spamdPing } from '../../src/pipeline/filter/external/spamd-client.ts';
import { startDaemon } from './daemon.ts';
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
  const address = `127.0.0.1:${port}`;
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  const daemon = await startDaemon({
    name: 'spamd',
    command: '/usr/bin/setpriv',
    args,
    ping: () => spamdPing({ address, timeoutMs: 2000 }),
    pingName: 'PING',
    readyTimeoutMs: o.readyTimeoutMs,
    onStartFailure: cleanup,
  });
  return { address, port, pid: daemon.pid, stop: daemon.stop, cleanup, log: daemon.output };
}
