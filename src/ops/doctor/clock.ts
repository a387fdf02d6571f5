// The clock: signatures, certificates, retry schedules and retention all depend on it. It
// must not be before this software was built, and should be kept by NTP.
import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { finding, type DoctorCheck } from './finding.ts';

const run = promisify(execFile);

async function ntpSynchronized(): Promise<boolean | null> {
  try {
    const { stdout } = await run('timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], { timeout: 3000 });
    const v = stdout.trim();
    return v === 'yes' ? true : v === 'no' ? false : null;
  } catch {
    return null; // no timedatectl or no systemd: unknown
  }
}

export const clockCheck: DoctorCheck = async ({ now }) => {
  const builtAt = statSync(fileURLToPath(import.meta.url)).mtimeMs;
  const fix = 'Enable time synchronisation: "timedatectl set-ntp true" (systemd-timesyncd) or chrony.';
  if (now < builtAt - 86_400_000) return [finding('clock', '', 'fail', `the clock says ${new Date(now).toISOString()}, before this software was installed`, fix)];
  const synced = await ntpSynchronized();
  if (synced === false) return [finding('clock', '', 'warn', `${new Date(now).toISOString()}, not synchronised by NTP`, fix)];
  if (synced === null) return [finding('clock', '', 'warn', `${new Date(now).toISOString()}; cannot tell whether NTP keeps it (no timedatectl answer)`, `Make sure an NTP client runs. ${fix}`)];
  return [finding('clock', '', 'ok', `${new Date(now).toISOString()}, synchronised by NTP`)];
};
