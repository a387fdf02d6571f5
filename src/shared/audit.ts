// An audit log entry as GET /api/v1/audit answers (see services/audit-service.ts).

export interface AuditEntry {
  id: number;
  at: string;
  actor: { kind: string; id: string; name: string };
  address: string | null;
  action: string;
  target: { type: string; id: string };
  domain: string | null;
  before: unknown;
  after: unknown;
}
