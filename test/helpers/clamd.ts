// A private ClamAV daemon for tests: its own config, socket and signature database in a
// temporary directory. No signature downloads are possible here, so the database is a
// one-line .ndb holding the EICAR string as a hex body signature: clamd loads it in a
// fraction of a second and matches it wherever it appears, MIME-decoded or unzipped.
//
// clamd runs in the foreground as our child under `setpriv --pdeathsig KILL`, so it
// dies with the test process even if that is killed; stop() ends it by its PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clamdPing } from '../../src/pipeline/filter/malware/clamd.ts';
import { EICAR } from '../../src/pipeline/filter/malware/eicar.ts';
import { findFreePort } from './peers.ts';

export const CLAMD = '/usr/sbin/clamd';
const SIGNATURE_NAME = 'Hermes.Test.EICAR';
/** What clamd reports: signatures outside the official databases get ".UNOFFICIAL". */
export const TEST_SIGNATURE = `${SIGNATURE_NAME}.UNOFFICIAL`;

export interface Clamd {
  /** "unix:/tmp/.../clamd.sock" */
  unix: string;
  /** "tcp:127.0.0.1:<port>" */
  tcp: string;
  pid: number;
  dir: string;
  /** Stops clamd (SIGTERM, then SIGKILL) and waits until it is gone. */
  stop(): Promise<void>;
  /** Removes the temporary directory (after stop). */
  cleanup(): void;
  log(): string;
}

export interface StartClamdOptions {
  /** clamd's StreamMaxLength. */
  streamMaxLength?: string;
  readyTimeoutMs?: number;
}

export async function startClamd(o: StartClamdOptions = {}): Promise<Clamd> {
  const dir = mkdtempSync(join(tmpdir(), 'hermes-clamd-'));
  const port = await findFreePort();
  const socket = join(dir, 'clamd.sock');
  // Name:TargetType(0 = any file):Offset(* = anywhere):HexSignature
  writeFileSync(join(dir, 'hermes-test.ndb'), `${SIGNATURE_NAME}:0:*:${Buffer.from(EICAR, 'latin1').toString('hex')}\n`);
  writeFileSync(
    join(dir, 'clamd.conf'),
    [
      `LocalSocket ${socket}`,
      `TCPSocket ${port}`,
      'TCPAddr 127.0.0.1',
      `DatabaseDirectory ${dir}`,
      `TemporaryDirectory ${dir}`,
      `LogFile ${join(dir, 'clamd.log')}`,
      'Foreground yes',
      // No bytecode or official databases to load: start in well under a second.
      'Bytecode no',
      'SelfCheck 0',
      'MaxThreads 4',
      `StreamMaxLength ${o.streamMaxLength ?? '25M'}`,
      'ScanMail yes',
      'ScanArchive yes',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', CLAMD, '-c', join(dir, 'clamd.conf')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
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
  const log = () => {
    try {
      return readFileSync(join(dir, 'clamd.log'), 'utf8');
    } catch {
      return '';
    }
  };

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

  // Ready when it answers PING (it listens only after loading the database).
  const deadline = Date.now() + (o.readyTimeoutMs ?? 60_000);
  let lastErr = '';
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      cleanup();
      throw new Error(`clamd exited during startup (${child.exitCode ?? child.signalCode}): ${stderr || log()}`);
    }
    try {
      await clamdPing({ address: `unix:${socket}`, timeoutMs: 2000 });
      break;
    } catch (err) {
      lastErr = (err as Error).message;
    }
    if (Date.now() > deadline) {
      await stop();
      cleanup();
      throw new Error(`clamd did not answer PING within ${o.readyTimeoutMs ?? 60_000} ms: ${lastErr}\n${log()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { unix: `unix:${socket}`, tcp: `tcp:127.0.0.1:${port}`, pid, dir, stop, cleanup, log };
}
