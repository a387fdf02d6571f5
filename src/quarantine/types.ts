// The contract between the decide stage, which holds messages, and the quarantine store.
import type { FilterCategory } from '../pipeline/filter/findings.ts';
import type { MessageDirection } from '../db/schema.ts';

export interface QuarantineHold {
  /** The gateway's queue id of the message. */
  messageId: string;
  receivedAt: Date;
  mailFrom: string;
  /** The recipients this hold is for (a message may be held for some recipients only). */
  recipients: string[];
  /** Why it was held: a policy category, a message rule, sender authentication (DMARC quarantine), or encryption that was required and not possible. */
  category: FilterCategory | 'rule' | 'auth' | 'malformed' | 'encryption';
  score: number | null;
  symbols: { name: string; score: number; description?: string }[];
  /** One line for the admin: "spam score 7.3 >= 5 (policy default)". */
  reason: string;
  /** The bytes as they would have been delivered (release delivers exactly these). */
  message: Buffer[];
  /** Optional: the message's direction (default 'inbound'), kept so a release goes out the same way. */
  direction?: MessageDirection;
}

export interface QuarantineSink {
  /** Stores the message durably (before the SMTP reply); returns the quarantine id. The caller traces the hold. */
  hold(h: QuarantineHold): Promise<string>;
}
