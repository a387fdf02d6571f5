import { randomBytes } from 'node:crypto';

/**
 * Queue ids sort by arrival time (base-36 milliseconds) and end in random hex, whose
 * last character also picks the spool subdirectory.
 */
export function newQueueId(now = Date.now()): string {
  return now.toString(36).toUpperCase().padStart(9, '0') + randomBytes(4).toString('hex').toUpperCase();
}

export function isQueueId(s: string): boolean {
  return /^[0-9A-Z]{9}[0-9A-F]{8}$/.test(s);
}
