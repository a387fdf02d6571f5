// A private ClamAV daemon for tests: its own config, socket and signature database in a
// temporary directory. No signature downloads are possible here, so the database is a
// one-line .ndb holding the EICAR string as a hex body signature: clamd loads it in a
// fraction of a second and matches it wherever it appears, MIME-decoded or unzipped.
//
// clamd runs in the foreground as our child under `setpriv --pdeathsig KILL`, so it
// dies with the test process even if that is killed; stop() ends it by its PID.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clamdPing } from '../../src/pipeline/filter/malware/clamd.ts';
import { EICAR } from '../../src/pipeline/filter/malware/eicar.ts';
import { startDaemon } from './daemon.ts';
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
  const log = () => {
    try {
      return readFileSync(join(dir, 'clamd.log'), 'utf8');
    } catch {
      return '';
    }
  };
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  // Ready when it answers PING (it listens only after loading the database).
  const daemon = await startDaemon({
    name: 'clamd',
    command: '/usr/bin/setpriv',
    args: ['--pdeathsig', 'KILL', '--', CLAMD, '-c', join(dir, 'clamd.conf')],
    outputLimit: 4000,
    ping: () => clamdPing({ address: `unix:${socket}`, timeoutMs: 2000 }),
    pingName: 'PING',
    readyTimeoutMs: o.readyTimeoutMs,
    pollMs: 100,
    diagnostics: (stderr) => [stderr, log()].filter(Boolean).join('\n'),
    onStartFailure: cleanup,
  });
  return { unix: `unix:${socket}`, tcp: `tcp:127.0.0.1:${port}`, pid: daemon.pid, dir, stop: daemon.stop, cleanup, log };
}
