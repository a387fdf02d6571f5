// The reply for a message whose reception failed with an error that is not already an
// SMTP reply: a full disk or database is 452 4.3.1, anything else 451 4.3.0. Never the
// error's own text ("ENOSPC: ...", "cannot rollback ..."): internals stay in the log.
import type { Logger } from 'pino';
import { isStorageFull } from '../spool/free-space.ts';
import { smtpError } from './smtp-server-patches.ts';

export function receptionFailureReply(err: unknown, storageLow: boolean, log: Logger): Error {
  if (typeof (err as { responseCode?: unknown } | null)?.responseCode === 'number') return err as Error;
  // A failed SQLite commit on a full disk can surface as "cannot rollback - no
  // transaction is active": the free-space look tells what really happened.
  if (isStorageFull(err) || storageLow) {
    log.error({ err }, 'message not accepted: the spool filesystem is full');
    return smtpError(452, '4.3.1', 'Insufficient system storage, try again later');
  }
  log.error({ err }, 'message not accepted: unexpected failure while storing it');
  return smtpError(451, '4.3.0', 'Temporary failure storing the message, try again later');
}
