// Free space on the spool's filesystem: when it runs out, mail cannot be accepted.
import { statfs } from 'node:fs/promises';
import { finding, type DoctorCheck } from './finding.ts';

const MB = 1024 * 1024;

export const diskSpaceCheck: DoctorCheck = async ({ config }) => {
  const dir = config.storage.spool;
  let s;
  try {
    s = await statfs(dir);
  } catch (err) {
    return [finding('disk', dir, 'fail', `cannot inspect the spool filesystem: ${(err as Error).message}`, 'Create the spool directory ("hermes init") and check its permissions.')];
  }
  const free = s.bavail * s.bsize;
  const share = s.blocks ? s.bavail / s.blocks : 0;
  const text = `${Math.round(free / MB)} MB free (${(share * 100).toFixed(1)}%)`;
  const fix = `Free space on the filesystem of ${dir} or give it more: the gateway refuses mail when the spool is full.`;
  if (free < 512 * MB || share < 0.05) return [finding('disk', dir, 'fail', text, fix)];
  if (share < 0.15) return [finding('disk', dir, 'warn', text, fix)];
  return [finding('disk', dir, 'ok', text)];
};
