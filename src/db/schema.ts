// Table types for Kysely. Timestamps are integer milliseconds since the epoch, booleans
// are integers 0/1: both map the same way on SQLite and PostgreSQL.
import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

export interface MigrationsTable {
  version: number;
  name: string;
  applied_at: number;
}

export type MessageDirection = 'inbound' | 'outbound' | 'dsn';
export type MessageState = 'queued' | 'done' | 'rejected';

export interface MessagesTable {
  id: string;
  received_at: number;
  /** Which gateway worker owns the delivery of this message. */
  node: number;
  direction: MessageDirection;
  client_ip: string | null;
  client_helo: string | null;
  client_ptr: string | null;
  tls: string | null;
  mail_from: string;
  size: number;
  message_id: string | null;
  subject: string | null;
  spool_file: string;
  state: MessageState;
  /** For a DSN: the message it reports on. */
  parent_id: string | null;
  done_at: number | null;
}

export type RecipientStatus = 'queued' | 'deferred' | 'delivered' | 'bounced' | 'expired' | 'deleted';
export const PENDING_STATUSES: RecipientStatus[] = ['queued', 'deferred'];

export interface RecipientsTable {
  message_id: string;
  /** Position in the envelope: (message_id, idx) identifies a recipient's copy. */
  idx: number;
  address: string;
  domain: string;
  /** Where the message goes: "mx:<domain>", "host:<host>:<port>" (see delivery/route.ts). */
  route: string;
  require_tls: number;
  status: RecipientStatus;
  attempts: number;
  first_attempt_at: number | null;
  next_attempt_at: number;
  last_reply: string | null;
  updated_at: number;
  /** The node delivering this recipient now (null: nobody; see delivery/queue-lease.ts). */
  lease_owner: string | null;
  /** Until when that node holds it: past this, another node may take it over. */
  lease_until: number | null;
  /** When its delay warning (DSN Action: delayed, delivery.retry.delayWarningSec) was queued; null: not yet. */
  delay_warned_at: number | null;
}

export interface EventsTable {
  id: Generated<number>;
  message_id: string;
  at: number;
  type: string;
  recipient: string | null;
  detail: string | null;
}

export type RecipientMode = 'any' | 'specified';

export interface RelayDomainsTable {
  domain: string;
  /** null: deliver to the domain's MX records. */
  next_hop: string | null;
  require_tls: number;
  recipient_mode: RecipientMode;
  created_at: number;
}

export interface RelayRecipientsTable {
  /** An exact address or "*@domain". */
  pattern: string;
  domain: string;
  created_at: number;
}

export interface RelayNetworksTable {
  cidr: string;
  description: string | null;
  created_at: number;
}

export interface SettingsTable {
  key: string;
  /** JSON. */
  value: string;
}

/** pending: published, not signing yet; active: signs; retiring: still published, no longer signs. */
export type DkimKeyStatus = 'pending' | 'active' | 'retiring';

export interface DkimKeysTable {
  id: Generated<number>;
  domain: string;
  selector: string;
  /** 'rsa-sha256' | 'ed25519-sha256' */
  algorithm: string;
  bits: number;
  /** PKCS#8 PEM sealed with the master key (AES-256-GCM, base64); see db/repos/dkim-keys.ts. */
  private_key: string;
  /** The TXT record value to publish at <selector>._domainkey.<domain>. */
  dns_txt: string;
  status: DkimKeyStatus;
  created_at: number;
  /** When it started signing. */
  activated_at: number | null;
  /** When it stopped signing (rotated out). */
  retired_at: number | null;
  /** End of the overlap: from then on its record may be unpublished and the key removed. */
  remove_after: number | null;
}

// ---- Quarantine store (migration 6): the message itself is a sealed file under the
// data tier (see quarantine/quarantine-store.ts); these rows say what it is and its state.
export type QuarantineState = 'held' | 'released' | 'deleted';

export interface QuarantineTable {
  /** Quarantine id (same shape as a queue id, but its own). */
  id: string;
  /** The queue id the message had when it was received. */
  message_id: string;
  received_at: number;
  held_at: number;
  direction: MessageDirection;
  mail_from: string;
  header_from: string | null;
  subject: string | null;
  message_id_header: string | null;
  /** 'spam' | 'malware' | 'banned' | 'badheader' | 'rule' | 'auth' | 'malformed' */
  category: string;
  score: number | null;
  /** JSON: [{name, score, description?}] */
  symbols: string;
  reason: string;
  size: number;
  /** File relative to the quarantine directory. */
  file: string;
  /** held while any recipient is held; released when none is held and one was released; deleted. */
  state: QuarantineState;
  updated_at: number;
}

export interface QuarantineRecipientsTable {
  quarantine_id: string;
  address: string;
  state: QuarantineState;
  released_at: number | null;
  /** Queue id of the released copy. */
  released_as: string | null;
}

// ---- Message rules (migration 6); see pipeline/filter/rules/types.ts for the JSON shapes.
export interface MessageRulesTable {
  id: Generated<number>;
  name: string;
  description: string | null;
  enabled: number;
  priority: number;
  match: string;
  /** JSON RuleCondition[] */
  conditions: string;
  /** JSON RuleAction[] */
  actions: string;
  created_at: number;
  updated_at: number;
}

// ---- Content filter (migration 3)

export type PolicyAction = 'deliver' | 'tag' | 'quarantine' | 'reject' | 'discard';

export interface FilterPoliciesTable {
  name: string;
  description: string | null;
  /** Spam score at which mail is tagged, quarantined (the spam action), rejected; null: level off. */
  tag_score: number | null;
  quarantine_score: number | null;
  reject_score: number | null;
  spam_action: PolicyAction;
  malware_action: PolicyAction;
  banned_action: PolicyAction;
  badheader_action: PolicyAction;
  subject_tag: string;
  /** 0: recipients of this policy skip spam checks. */
  spam_checks: number;
  /** Named file rule set for banned attachments; null: the default set. */
  file_rules: string | null;
  created_at: number;
  updated_at: number;
}

export type PolicyScope = 'recipient' | 'domain' | 'default';

export interface FilterPolicyAssignmentsTable {
  scope: PolicyScope;
  /** Address for 'recipient', domain for 'domain', '' for 'default'. */
  target: string;
  policy: string;
  created_at: number;
}

export type FilterListName = 'allow-all' | 'allow' | 'recipient-allow' | 'block';
export type FilterListKind = 'address' | 'domain' | 'network';

export interface FilterListsTable {
  id: Generated<number>;
  list: FilterListName;
  /** '' for a global entry; else the recipient address or domain whose list it is. */
  owner: string;
  kind: FilterListKind;
  value: string;
  comment: string | null;
  created_at: number;
}

export interface BayesTokensTable {
  token: string;
  spam: number;
  ham: number;
  atime: number;
}

export interface BayesLearnedTable {
  digest: string;
  class: 'spam' | 'ham';
  learned_at: number;
}

export interface BayesTotalsTable {
  class: 'spam' | 'ham';
  messages: number;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: number;
  actor_kind: string;
  actor_id: string;
  actor_name: string;
  address: string | null;
  /** Verb-like and stable: "domain.add", "quarantine.release", "user.password-reset". */
  action: string;
  target_type: string;
  target_id: string;
  domain: string | null;
  before_json: string | null;
  after_json: string | null;
}

export interface Database {
  migrations: MigrationsTable;
  messages: MessagesTable;
  recipients: RecipientsTable;
  events: EventsTable;
  relay_domains: RelayDomainsTable;
  relay_recipients: RelayRecipientsTable;
  relay_networks: RelayNetworksTable;
  settings: SettingsTable;
  dkim_keys: DkimKeysTable;
  quarantine: QuarantineTable;
  quarantine_recipients: QuarantineRecipientsTable;
  message_rules: MessageRulesTable;
  filter_policies: FilterPoliciesTable;
  filter_policy_assignments: FilterPolicyAssignmentsTable;
  filter_lists: FilterListsTable;
  bayes_tokens: BayesTokensTable;
  bayes_learned: BayesLearnedTable;
  bayes_totals: BayesTotalsTable;
  audit_log: AuditLogTable;
  users: UsersTable;
  sessions: SessionsTable;
  api_tokens: ApiTokensTable;
  login_throttle: LoginThrottleTable;
  app_passwords: AppPasswordsTable;
  sender_addresses: SenderAddressesTable;
  tls_policies: TlsPoliciesTable;
  mta_sts_policies: MtaStsPoliciesTable;
  greylist: GreylistTable;
  gateway_secrets: GatewaySecretsTable;
  link_uses: LinkUsesTable;
  rate_limits: RateLimitsTable;
  recipient_prefs: RecipientPrefsTable;
  portal_delegations: PortalDelegationsTable;
  release_requests: ReleaseRequestsTable;
  job_runs: JobRunsTable;
  notifications_sent: NotificationsSentTable;
  certificates: CertificatesTable;
  acme_accounts: AcmeAccountsTable;
  acme_challenges: AcmeChallengesTable;
  smarthost_credentials: SmarthostCredentialsTable;
  encryption_keys: EncryptionKeysTable;
  message_bytes: MessageBytesTable;
  cluster_nodes: ClusterNodesTable;
}

/** A queued message's bytes (spool-file format) in chunks, when storage.messages is "database". */
export interface MessageBytesTable {
  message_id: string;
  seq: number;
  data: Buffer;
}

/** One row per gateway process sharing the database, with its last heartbeat. */
export interface ClusterNodesTable {
  name: string;
  hostname: string;
  pid: number;
  version: string;
  started_at: number;
  heartbeat_at: number;
  /** Recipients it held leases on at its last heartbeat. */
  leases: number;
}

export type MessageRow = Selectable<MessagesTable>;
export type NewMessage = Insertable<MessagesTable>;
export type RecipientRow = Selectable<RecipientsTable>;
export type NewRecipient = Insertable<RecipientsTable>;
export type EventRow = Selectable<EventsTable>;
export type NewEvent = Insertable<EventsTable>;
export type RelayDomainRow = Selectable<RelayDomainsTable>;
export type DkimKeyRow = Selectable<DkimKeysTable>;
export type QuarantineRow = Selectable<QuarantineTable>;
export type QuarantineRecipientRow = Selectable<QuarantineRecipientsTable>;
export type MessageRuleRow = Selectable<MessageRulesTable>;
export type FilterPolicyRow = Selectable<FilterPoliciesTable>;
export type FilterListRow = Selectable<FilterListsTable>;
export type AuditLogRow = Selectable<AuditLogTable>;

export interface UsersTable {
  id: string;
  username: string;
  role: string;
  domains_json: string | null;
  password_hash: string;
  must_change_password: number;
  totp_secret_sealed: string | null;
  totp_enabled: number;
  recovery_codes_json: string | null;
  /** The TOTP time step last used (sign-in or enrolment); only later steps are accepted. */
  totp_last_step: ColumnType<number | null, number | null | undefined, number | null>;
  disabled: number;
  created_at: number;
  updated_at: number;
  last_login_at: number | null;
  last_login_address: string | null;
}

export interface SessionsTable {
  id_hash: string;
  user_id: string;
  csrf_token: string;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  address: string | null;
  user_agent: string | null;
}

export interface ApiTokensTable {
  id: string;
  name: string;
  secret_hash: string;
  role: string;
  domains_json: string | null;
  expires_at: number | null;
  allowed_cidrs_json: string | null;
  created_by: string;
  created_at: number;
  last_used_at: number | null;
  last_used_address: string | null;
  revoked_at: number | null;
}

export interface LoginThrottleTable {
  key: string;
  failures: number;
  first_failure_at: number;
  locked_until: number | null;
  lock_count: number;
}

export type UserRow = Selectable<UsersTable>;
export type SessionRow = Selectable<SessionsTable>;
export type ApiTokenRow = Selectable<ApiTokensTable>;
export type LoginThrottleRow = Selectable<LoginThrottleTable>;

// ---- Submission and transport security (migration 0012).

export interface AppPasswordsTable {
  id: string;
  user_id: string;
  name: string;
  secret_hash: string;
  created_at: number;
  last_used_at: number | null;
  last_used_address: string | null;
  revoked_at: number | null;
}
export type AppPasswordRow = Selectable<AppPasswordsTable>;

export interface SenderAddressesTable {
  user_id: string;
  address: string;
  created_at: number;
  created_by: string;
}
export type SenderAddressRow = Selectable<SenderAddressesTable>;

export interface TlsPoliciesTable {
  domain: string;
  level: string;
  created_at: number;
  updated_at: number;
}
export type TlsPolicyRow = Selectable<TlsPoliciesTable>;

export interface MtaStsPoliciesTable {
  domain: string;
  policy_id: string;
  mode: string;
  mx_json: string;
  max_age: number;
  fetched_at: number;
  expires_at: number;
}
export type MtaStsPolicyRow = Selectable<MtaStsPoliciesTable>;

export interface GreylistTable {
  key: string;
  first_seen: number;
  passed_at: number | null;
  last_seen: number;
}
// ---- User portal, action links, digests, notifications (migration 15).
export interface GatewaySecretsTable {
  name: string;
  /** Sealed by the master key, bound to the name. */
  sealed: string;
  created_at: number;
}

export interface LinkUsesTable {
  link_id: string;
  used_at: number;
  action: string;
  quarantine_id: string | null;
  recipient: string;
  expires_at: number;
  address: string | null;
}

export interface RateLimitsTable {
  key: string;
  window_start: number;
  count: number;
}

export type DigestFrequency = 'never' | 'hourly' | 'daily' | 'weekly';

export interface RecipientPrefsTable {
  address: string;
  digest_frequency: DigestFrequency | null;
  language: string | null;
  last_digest_at: number | null;
  updated_at: number;
}

export interface PortalDelegationsTable {
  user_id: string;
  address: string;
  created_at: number;
}

export interface ReleaseRequestsTable {
  quarantine_id: string;
  address: string;
  requested_by: string;
  requested_at: number;
  comment: string | null;
}

export interface JobRunsTable {
  name: string;
  locked_by: string | null;
  locked_until: number;
  last_started_at: number | null;
  last_finished_at: number | null;
  watermark: number | null;
  last_result: string | null;
}

export interface NotificationsSentTable {
  key: string;
  sent_at: number;
}

export type RecipientPrefsRow = Selectable<RecipientPrefsTable>;
export type JobRunRow = Selectable<JobRunsTable>;
// ---- TLS certificates (migration 11): see db/repos/certificates.ts.
/** pending: a key and CSR waiting for the signed certificate; active: served by the listeners. */
export type CertificateStatus = 'pending' | 'active';
export type CertificateSource = 'import' | 'csr' | 'acme';

export interface CertificatesTable {
  id: Generated<number>;
  /** Random id, the associated data of the sealed private key. */
  key_ref: string;
  source: CertificateSource;
  status: CertificateStatus;
  /** JSON array of the DNS names (SANs) the certificate is for. */
  names_json: string;
  /** PKCS#8 PEM sealed with the master key. */
  key_sealed: string;
  /** 'ec-p256' | 'rsa-2048' ... */
  key_type: string;
  csr_pem: string | null;
  /** Leaf first, then the chain (PEM). */
  cert_pem: string | null;
  subject: string | null;
  issuer: string | null;
  serial_number: string | null;
  /** SHA-256 of the leaf, hex with colons (as openssl prints it). */
  fingerprint: string | null;
  not_before: number | null;
  not_after: number | null;
  is_default: number;
  /** For ACME certificates: the directory they came from and the challenge type, to renew. */
  acme_directory: string | null;
  acme_challenge: string | null;
  renew_failures: number;
  next_renew_attempt: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

export interface AcmeAccountsTable {
  directory_url: string;
  key_sealed: string;
  account_url: string | null;
  email: string | null;
  created_at: number;
}

export interface AcmeChallengesTable {
  token: string;
  key_authorization: string;
  expires_at: number;
}

export interface SmarthostCredentialsTable {
  /** Always 1: there is one smarthost. */
  id: number;
  username: string;
  password_sealed: string;
  /** 'starttls' (required) | 'implicit' (TLS from the first byte, port 465). */
  tls: string;
  updated_at: number;
}

export type CertificateRow = Selectable<CertificatesTable>;
export type EncryptionKeyKind = 'smime' | 'pgp';
/** Where a key came from: imported by an admin, harvested from inbound mail, generated here, issued by the internal CA, or found by WKD (PGP). */
export type EncryptionKeySource = 'imported' | 'harvested' | 'generated' | 'internal-ca' | 'wkd';

export interface EncryptionKeysTable {
  id: Generated<number>;
  /** Lower-case e-mail address the key is for ('' for the internal CA's own certificate). */
  address: string;
  kind: EncryptionKeyKind;
  /** S/MIME: SHA-256 of the certificate (hex); PGP: the primary key's fingerprint (hex). */
  fingerprint: string;
  /** S/MIME: subject DN; PGP: the first user ID. For display. */
  subject: string | null;
  /** S/MIME: issuer DN; PGP: null. */
  issuer: string | null;
  /** S/MIME: PEM certificate followed by its chain (CA certificates); PGP: the armored public key. */
  public_material: string;
  /** The private key (PKCS#8 PEM / armored PGP key), sealed with the master key; null when we only hold the public half. */
  private_material: string | null;
  /** 1 for the internal CA's own certificate (it signs, never encrypts). */
  is_ca: Generated<number>;
  not_before: number | null;
  not_after: number | null;
  source: EncryptionKeySource;
  revoked_at: number | null;
  created_at: number;
}
export type EncryptionKeyRow = Selectable<EncryptionKeysTable>;
