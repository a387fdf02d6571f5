// A queued recipient as the queue routes answer (see services/queue-service.ts).

export interface QueueEntry {
  id: string;
  receivedAt: string;
  from: string;
  subject: string | null;
  size: number;
  direction: string;
  recipient: string;
  /** queued: not tried yet; deferred: waiting for a retry; held: by an admin, until released. */
  status: 'queued' | 'deferred' | 'held';
  attempts: number;
  /** null while held. */
  nextAttemptAt: string | null;
  lastReply: string | null;
}
