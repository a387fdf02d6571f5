// CPU time and resident memory of a process tree, read from /proc (Linux only).
//
// CPU: for every live process of the tree, utime+stime+cutime+cstime from
// /proc/PID/stat. A child that exited and was reaped by its parent has its time
// added to the parent's cutime/cstime by the kernel, so the sum only grows, even
// when Postfix's master replaces its smtpd/cleanup/smtp processes during a run.
// RSS: the rss field of /proc/PID/stat (the same number as VmRSS in /proc/PID/status,
// in pages), summed over the tree. Summing RSS counts pages shared between processes
// (libraries, Postfix's many small daemons) once per process, so it overstates a
// multi-process system's real footprint; treePssBytes() gives the fairer PSS.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { descendantPids } from '../test/helpers/peers.ts';

function sysconf(name: string, fallback: number): number {
  try {
    const v = Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim());
    return Number.isFinite(v) && v > 0 ? v : fallback;
  } catch {
    return fallback;
  }
}

const CLK_TCK = sysconf('CLK_TCK', 100);
const PAGE_SIZE = sysconf('PAGESIZE', 4096);

interface ProcStat {
  cpuTicks: number;
  rssBytes: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm)": state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17) ... rss(24)
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    const n = (i: number) => Number(f[i - 3] ?? 0);
    return { cpuTicks: n(14) + n(15) + n(16) + n(17), rssBytes: n(24) * PAGE_SIZE };
  } catch {
    return undefined;
  }
}

export interface TreeSample {
  cpuMs: number;
  rssBytes: number;
  processes: number;
}

/** CPU ms consumed so far and current RSS of the given roots and all their descendants. */
export function sampleTree(roots: number[]): TreeSample {
  const pids = new Set<number>();
  for (const r of roots) {
    pids.add(r);
    for (const d of descendantPids(r)) pids.add(d);
  }
  let ticks = 0;
  let rss = 0;
  let n = 0;
  for (const pid of pids) {
    const st = readStat(pid);
    if (!st) continue;
    ticks += st.cpuTicks;
    rss += st.rssBytes;
    n++;
  }
  return { cpuMs: (ticks * 1000) / CLK_TCK, rssBytes: rss, processes: n };
}

/**
 * Proportional set size of the tree (each shared page divided among the processes
 * mapping it), from /proc/PID/smaps_rollup. Fairer than summed RSS for comparing a
 * many-process system with a single process, but costlier to read.
 */
export function treePssBytes(roots: number[]): number {
  const pids = new Set<number>();
  for (const r of roots) {
    pids.add(r);
    for (const d of descendantPids(r)) pids.add(d);
  }
  let kb = 0;
  for (const pid of pids) {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch {
      /* exited */
    }
  }
  return kb * 1024;
}

/**
 * Polls the tree's summed RSS every `intervalMs` (and its PSS every `pssEvery`
 * polls) and keeps the peaks.
 */
export class RssPoller {
  peakBytes = 0;
  peakPssBytes = 0;
  peakProcesses = 0;
  private polls = 0;
  private timer: NodeJS.Timeout;

  constructor(
    private readonly roots: () => number[],
    intervalMs = 100,
    private readonly pssEvery = 10,
  ) {
    this.poll(true);
    this.timer = setInterval(() => this.poll(false), intervalMs);
  }

  private poll(withPss: boolean): void {
    const roots = this.roots();
    const s = sampleTree(roots);
    if (s.rssBytes > this.peakBytes) this.peakBytes = s.rssBytes;
    if (s.processes > this.peakProcesses) this.peakProcesses = s.processes;
    if (withPss || ++this.polls % this.pssEvery === 0) {
      const pss = treePssBytes(roots);
      if (pss > this.peakPssBytes) this.peakPssBytes = pss;
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.poll(true);
  }
}

export interface HostCpu {
  busy: number;
  iowait: number;
  total: number;
}

/** Machine-wide CPU jiffies from /proc/stat (all cores). */
export function hostCpu(): HostCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, iowait, total: busy + idle + iowait };
}

/** Share of all cores' time between two samples that was busy / waiting for I/O, in percent. */
export function hostCpuPercent(a: HostCpu, b: HostCpu): { busy: number; iowait: number } {
  const total = b.total - a.total;
  if (total <= 0) return { busy: NaN, iowait: NaN };
  return { busy: (100 * (b.busy - a.busy)) / total, iowait: (100 * (b.iowait - a.iowait)) / total };
}
