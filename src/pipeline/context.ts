// What every pipeline stage sees and may change. Stages run in a fixed order (see
// pipeline.ts): verification reads `original`, the bytes as received; changes go to
// `prepend` and `body`, which later stages (signing, sealing) read last.
import type { Logger } from 'pino';
import type { MessageDirection } from '../db/schema.ts';
import type { AuthVerdict } from './verify/authenticate.ts';
import type { AuthDecision } from './verify/dmarc-enforce.ts';
import type { FilterFindings } from './filter/findings.ts';
import type { QuarantineHold } from '../quarantine/types.ts';
import type { ListVerdict } from './decide/lists.ts';

export interface SmtpReply {
  code: number;
  enhanced: string;
  message: string;
}

export interface RecipientContext {
  address: string;
  route: string;
  requireTls: boolean;
}

export interface ClientInfo {
  ip: string;
  helo: string | null;
  ptr: string | null;
  /** e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384", null for plain text. */
  tls: string | null;
  /** The client is in the relay networks (our own servers), or signed in on a submission port. */
  trusted: boolean;
  /** The user signed in with SMTP AUTH (submission ports), absent otherwise. */
  authenticatedUser?: string;
}

export interface MessageContext {
  readonly id: string;
  readonly receivedAt: Date;
  readonly client: ClientInfo;
  readonly direction: MessageDirection;
  readonly mailFrom: string;
  recipients: RecipientContext[];
  /**
   * The message exactly as received (after the DATA terminator was removed). The
   * inbound decrypt stage (encrypt/decrypt-stage.ts), after verification and before the
   * filters, replaces it by the decrypted message, so the filters judge the content.
   */
  readonly original: Buffer;
  /** Header lines (each ending in CRLF) to put on top of the message, in order. */
  prepend: string[];
  /** The message body and headers as they will be sent, below `prepend`. */
  body: Buffer;
  /** Set by a stage to refuse the message in the SMTP session. */
  reject: SmtpReply | null;
  /**
   * Sender authentication as found on arrival (verify stage), for later stages: the
   * spam filter reads the results, the ARC seal its chain status. Absent when the
   * message was not verified (from the relay networks, or verification is off).
   */
  auth?: MessageAuth;
  /** What the filter stages (malware, attachments, spam, rules) found; the decide stage acts on it. */
  findings: FilterFindings;
  /** Allow and block list matches (lists stage), for the filter stages and decide. */
  lists?: ListVerdict;
  /**
   * Set by the decide stage when recipients are treated differently: one plan per copy.
   * The pipeline forks there; the stages after decide run once per copy (pipeline.ts).
   */
  copies?: CopyPlan[];
  /**
   * Set by a per-copy stage (encrypt) when this copy's recipients need different
   * treatment: the pipeline replaces the copy by one per plan and runs that stage again
   * on each, then the stages after it.
   */
  split?: CopyPlan[];
  /** On a copy made by the fork (other than the first): the queue id it was split from. */
  parentId?: string;
  /** On a copy to hold in the quarantine instead of queueing it for delivery. */
  hold?: HoldRequest;
  readonly log: Logger;
  /** Adds an event to this message's trace. */
  trace(type: string, detail?: unknown): void;
}

export interface MessageAuth {
  verdict: AuthVerdict;
  decision: AuthDecision;
}

/** Why a copy is held; the message bytes and envelope are added when it is stored. */
export type HoldRequest = Pick<QuarantineHold, 'category' | 'score' | 'symbols' | 'reason'>;

/** One copy of a message, as the decide stage plans it. */
export interface CopyPlan {
  recipients: RecipientContext[];
  /** Hold this copy in the quarantine (after the per-copy stages ran) instead of queueing it. */
  hold: HoldRequest | null;
  /** What sets this copy apart, for the trace: "clean", "tagged", "quarantined". */
  label: string;
  /** Applies this copy's own changes (headers, subject tag) to it. */
  apply(copy: MessageContext): void;
}

export interface Stage {
  readonly name: string;
  run(ctx: MessageContext): void | Promise<void>;
}
