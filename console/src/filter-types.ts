// The JSON the filter routes answer with (src/http/routes/{filter-policies,lists,rules,
// filerules,body-changes,dkim,dnsbl,bayes}.ts, whose response schemas define them).
// Unlike src/shared, the service types behind these sit in modules that import the
// server's pipeline and database, which this browser build cannot type-check (no Node
// types), so they are restated here; the browser tests drive every page against the
// real server, which catches drift.

export const POLICY_ACTIONS = ['deliver', 'tag', 'quarantine', 'reject', 'discard'] as const;
export type PolicyAction = (typeof POLICY_ACTIONS)[number];

export interface FilterPolicy {
  name: string;
  description: string | null;
  tagScore: number | null;
  quarantineScore: number | null;
  rejectScore: number | null;
  spamAction: PolicyAction;
  malwareAction: PolicyAction;
  bannedAction: PolicyAction;
  badheaderAction: PolicyAction;
  subjectTag: string;
  spamChecks: boolean;
  fileRules: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface PolicyAssignment {
  scope: 'recipient' | 'domain' | 'default';
  target: string;
  policy: string;
}

export const LIST_NAMES = ['allow-all', 'allow', 'recipient-allow', 'block'] as const;
export const LIST_DESCRIPTIONS: Record<(typeof LIST_NAMES)[number], string> = {
  'allow-all': 'senders whose mail skips every check (global only)',
  allow: 'senders whose mail skips the spam checks',
  'recipient-allow': 'recipients whose mail skips the spam checks',
  block: 'senders whose mail is refused (554 5.7.1)',
};

export interface ListEntry {
  id: number;
  list: string;
  owner: string;
  kind: string;
  value: string;
  comment: string | null;
  createdAt: string | null;
}

export const RULE_FIELDS = ['header', 'body', 'rawbody', 'uri', 'sender', 'recipient', 'size', 'attachment'] as const;
export const RULE_OPS = ['contains', 'equals', 'regex', 'gt', 'lt'] as const;
export const RULE_ACTIONS = ['score', 'header', 'redirect', 'bcc', 'quarantine', 'reject', 'bypass'] as const;

export interface RuleCondition {
  field: (typeof RULE_FIELDS)[number];
  header?: string;
  op: (typeof RULE_OPS)[number];
  value: string | number;
  caseSensitive?: boolean;
  negate?: boolean;
}

export interface RuleAction {
  action: (typeof RULE_ACTIONS)[number];
  value?: string | number;
}

export interface MessageRule {
  id?: number;
  name: string;
  description: string | null;
  enabled: boolean;
  priority: number;
  match: 'all' | 'any';
  conditions: RuleCondition[];
  actions: RuleAction[];
}

export interface RuleTestResult {
  rule: string;
  matched: boolean;
  envelope: { from: string; to: string[] };
  conditions: Array<{ condition: RuleCondition; held: boolean }>;
  actions: RuleAction[];
}

export const FILE_RULE_KINDS = ['extension', 'double-extension', 'disguised-name', 'name', 'declared-type', 'detected-type', 'archive'] as const;

export interface FileRule {
  name: string;
  kind: (typeof FILE_RULE_KINDS)[number];
  values: string[];
  action: 'ban' | 'allow';
  inArchives: boolean;
  description: string;
}

export interface FileRuleSetSummary {
  name: string;
  description: string;
  rules: number;
  updatedAt: string;
}

export interface FileRuleSet {
  name: string;
  description: string;
  rules: FileRule[];
}

export interface TestedFile {
  path: string;
  detected: string | null;
  banned: boolean;
  rule: string;
  reason: string;
}

export const BODY_KINDS = ['banner', 'disclaimer', 'signature'] as const;
export type BodyKind = (typeof BODY_KINDS)[number];

export interface BodyTemplate {
  id: number;
  name: string;
  kind: BodyKind;
  text: string | null;
  html: string | null;
  images: string[];
  missingImages: string[];
  updatedAt: string;
}

export interface BodyRule {
  id: number;
  kind: BodyKind;
  scope: string;
  value: string;
  template: string;
  internal: boolean;
  enabled: boolean;
}

export interface BodyPreview {
  direction: 'inbound' | 'outbound';
  changed: boolean;
  message: string;
  changes: Record<string, unknown> | null;
}

export interface DkimKey {
  id: number;
  domain: string;
  selector: string;
  algorithm: string;
  bits: number;
  status: 'pending' | 'active' | 'retiring' | 'expired';
  dnsName: string;
  dnsValue: string;
  zoneLine: string;
  arc: string | null;
  createdAt: string;
  activatedAt: string | null;
  retiredAt: string | null;
  removeAfter: string | null;
  dns?: string;
}

export interface ArcConfig {
  enabled: boolean;
  domain: string | null;
  selector: string | null;
  warning?: string;
}

export interface DnsZone {
  zone: string;
  symbol?: string;
  weight?: number;
  codes?: string[];
  mask?: number;
}

export interface DnsblConfig {
  enabled: boolean;
  budgetMs: number;
  maxUriDomains: number;
  ipZones: DnsZone[];
  uriZones: DnsZone[];
  rejectZones: string[];
}

export interface DnsblCheck {
  query: string;
  kind: string;
  listed: boolean;
  queries: number;
  hits: Array<{ zone: string; symbol: string; weight: number; answer: string }>;
  problems: Array<{ zone: string; kind: string; detail?: string }>;
}

export interface BayesStats {
  spamMessages: number;
  hamMessages: number;
  tokens: number;
  minSpam: number;
  minHam: number;
  ready: boolean;
}
