// Message trace answers (see services/trace-service.ts).

export const TRACE_VERDICTS = ['queued', 'delivered', 'deferred', 'bounced', 'expired', 'deleted', 'rejected', 'quarantined'] as const;
export type TraceVerdict = (typeof TRACE_VERDICTS)[number];

export interface TraceRecipient {
  address: string;
  status: string;
  attempts: number;
  route: string;
  lastReply: string | null;
}

export interface TraceSummary {
  id: string;
  receivedAt: string;
  direction: string;
  from: string;
  subject: string | null;
  messageId: string | null;
  clientIp: string | null;
  size: number;
  state: string;
  verdict: TraceVerdict;
  recipients: TraceRecipient[];
}

export interface TraceEvent {
  id: number;
  at: string;
  type: string;
  recipient: string | null;
  detail: unknown;
}

export interface TraceDetail extends TraceSummary {
  clientHelo: string | null;
  clientPtr: string | null;
  tls: string | null;
  doneAt: string | null;
  parentId: string | null;
  /** What the parent is to this message: "Report on" (a DSN), "Copy of" (split), "Parent". */
  parentLabel: string | null;
  quarantineIds: string[];
  children: Array<{ id: string; direction: string; receivedAt: string }>;
  events: TraceEvent[];
}
