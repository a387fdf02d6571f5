// Runs a test daemon (clamd, spamd, Rspamd) as our child and waits until it answers, so
// each daemon's helper only says how to configure, launch and probe it. Whatever happens
// to the test, the daemon does not outlive it: stop() ends it, and if the test process
// exits first, an exit hook kills it by its PID (or its process group).
import { spawn } from 'node:child_process';
import { once } from 'node:events';

export interface DaemonOptions {
  /** For error messages: "clamd". */
  name: string;
  command: string;
  args: string[];
  /** Spawn it as the leader of a process group of its own and signal the whole group:
   *  for daemons whose workers outlive their main process. */
  processGroup?: boolean;
  /** Keep stdout as well as stderr. */
  captureStdout?: boolean;
  /** How much of the output to keep (the last characters). */
  outputLimit?: number;
  /** One readiness probe: rejects while the daemon is not ready. */
  ping(): Promise<unknown>;
  /** The probe's name in the timeout error: "PING". */
  pingName: string;
  readyTimeoutMs?: number;
  pollMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL. */
  killAfterMs?: number;
  /** What a startup error quotes, given the captured output; that output unless given. */
  diagnostics?: (output: string) => string;
  /** Runs when startup fails, after the daemon is gone (removes its temporary directory). */
  onStartFailure?: () => void;
}

export interface Daemon {
  pid: number;
  /** The last outputLimit characters of stderr (and stdout, if captured). */
  output(): string;
  /** SIGTERM, then SIGKILL after killAfterMs; resolves once it is gone. Safe to call twice. */
  stop(): Promise<void>;
}

export async function startDaemon(o: DaemonOptions): Promise<Daemon> {
  const child = spawn(o.command, o.args, {
    stdio: ['ignore', o.captureStdout ? 'pipe' : 'ignore', 'pipe'],
    detached: o.processGroup ?? false,
  });
  let output = '';
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-(o.outputLimit ?? 8000)));
  child.stdout?.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = once(child, 'exit');
  const pid = child.pid!;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(o.processGroup ? -pid : pid, sig);
    } catch {
      /* gone */
    }
  };
  const running = () => child.exitCode === null && child.signalCode === null;
  const onExit = () => signal('SIGKILL');
  process.on('exit', onExit);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (running()) {
      signal('SIGTERM');
      const timer = setTimeout(() => signal('SIGKILL'), o.killAfterMs ?? 15_000);
      await exited;
      clearTimeout(timer);
    }
    if (o.processGroup) signal('SIGKILL'); // workers that outlived the leader
    process.off('exit', onExit);
  };
  const fail = async (message: string): Promise<never> => {
    await stop();
    o.onStartFailure?.();
    throw new Error(`${message}\n${o.diagnostics ? o.diagnostics(output) : output}`);
  };

  const timeoutMs = o.readyTimeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!running()) await fail(`${o.name} exited during startup (${child.exitCode ?? child.signalCode}):`);
    try {
      await o.ping();
      return { pid, output: () => output, stop };
    } catch (err) {
      if (Date.now() > deadline) await fail(`${o.name} did not answer ${o.pingName} within ${timeoutMs} ms: ${(err as Error).message}`);
    }
    await new Promise((r) => setTimeout(r, o.pollMs ?? 150));
  }
}
