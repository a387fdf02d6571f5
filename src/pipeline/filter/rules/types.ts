// Message rules: an admin's own conditions and actions, kept in the database
// (message_rules). The rules stage only evaluates them and reports RuleMatch findings;
// the decide stage carries out the actions, together with each recipient's policy.
import type { RuleMatch } from '../findings.ts';

/** What a condition looks at. */
export type RuleField =
  /** A header's decoded values (`header` names it), e.g. Subject. */
  | 'header'
  /** The readable body text (text part, plus the visible text of the HTML part). */
  | 'body'
  /** The body as received, below the header block: undecoded (base64 stays base64), MIME boundaries included. */
  | 'rawbody'
  /** Each URL found in the body. */
  | 'uri'
  /** The envelope sender (MAIL FROM). */
  | 'sender'
  /** Each envelope recipient (RCPT TO). */
  | 'recipient'
  /** The message size in bytes (with op gt / lt). */
  | 'size'
  /** Each attachment file name. */
  | 'attachment';

export type RuleOp =
  /** Substring, case-insensitive unless caseSensitive. */
  | 'contains'
  /** The whole value, case-insensitive unless caseSensitive. */
  | 'equals'
  /** A JavaScript regular expression (without slashes), case-insensitive unless caseSensitive. */
  | 'regex'
  /** Numeric comparisons, for size. */
  | 'gt'
  | 'lt';

export interface RuleCondition {
  field: RuleField;
  /** For field 'header': the header name. */
  header?: string;
  op: RuleOp;
  value: string | number;
  caseSensitive?: boolean;
  /** True when the condition must NOT hold. */
  negate?: boolean;
}

export type RuleActionName = RuleMatch['action'];

export interface RuleAction {
  action: RuleActionName;
  /** score: points to add (number); header: "Name: value"; redirect / bcc: an address; reject: optional reply text. */
  value?: string | number;
}

export interface MessageRule {
  id?: number;
  name: string;
  description: string | null;
  enabled: boolean;
  /** Lower runs first; matches are reported in this order. */
  priority: number;
  /** 'all': every condition must hold; 'any': one is enough. */
  match: 'all' | 'any';
  conditions: RuleCondition[];
  actions: RuleAction[];
}

export const RULE_FIELDS: readonly RuleField[] = ['header', 'body', 'rawbody', 'uri', 'sender', 'recipient', 'size', 'attachment'];
export const RULE_OPS: readonly RuleOp[] = ['contains', 'equals', 'regex', 'gt', 'lt'];
export const RULE_ACTIONS: readonly RuleActionName[] = ['score', 'header', 'redirect', 'bcc', 'quarantine', 'reject', 'bypass'];
