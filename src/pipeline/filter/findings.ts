// What the filter stages found, for the decide stage to turn into per-recipient actions.
// Each filter stage fills its own field; none of them acts on the message itself. The
// decide stage reads all of them together with each recipient's policy and lists.
import type { SpamResult } from './spam/types.ts';
import type { MalformedFinding } from './malformed.ts';

/** The categories a policy assigns actions to (Hermes's SVF policy categories), plus rules and auth. */
export type FilterCategory = 'spam' | 'malware' | 'banned' | 'badheader';

/** What happens to a message for one recipient. */
export type FilterAction = 'deliver' | 'tag' | 'quarantine' | 'reject' | 'discard';

export interface MalwareFinding {
  /** Which scanner found it. */
  engine: 'clamd' | 'builtin';
  /** Signature name, e.g. "Eicar-Signature" or "Win.Test.EICAR_HDB-1". */
  name: string;
  /** Where: attachment file name, "archive.zip/inner.exe", or "message". */
  where: string;
}

export interface MalwareVerdict {
  infected: MalwareFinding[];
  /** Scanners that could not scan (clamd unreachable, timeout): the decide stage applies the configured failure action. */
  errors: { engine: string; error: string }[];
}

export interface BannedAttachment {
  /** File name as sent (or "archive.zip/inner name" for a member of an archive). */
  filename: string;
  /** The rule set and rule that matched. */
  ruleSet: string;
  rule: string;
  /** Human-readable why: "double extension .pdf.exe", "declared application/pdf but is a Windows executable". */
  reason: string;
}

/** A message rule (admin-written) that matched, with the action it asks for. */
export interface RuleMatch {
  rule: string;
  action: 'score' | 'header' | 'redirect' | 'bcc' | 'quarantine' | 'reject' | 'bypass';
  /** Score to add, header line, or target address, per action. */
  value?: string | number;
  /**
   * The recipients the match holds for, when the rule judged recipients and only some
   * of them matched (e.g. redirect only the copy to junk@office365.microsoft.com);
   * absent: the whole message.
   */
  recipients?: string[];
}

export interface FilterFindings {
  spam?: SpamResult;
  malware?: MalwareVerdict;
  banned?: BannedAttachment[];
  rules?: RuleMatch[];
  /** The message could not be parsed (malformed.ts); decide applies filter.malformedAction. */
  malformed?: MalformedFinding;
}
