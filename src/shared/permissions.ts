// Roles and what each may do: the one table the server checks on every route (through
// services/actor.ts) and the console reads to show only the pages a role can use. The
// console's view is a convenience; the server decides.

export const ROLES = ['admin', 'domain-admin', 'helpdesk', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

/** The areas of the gateway a permission is about. */
export const RESOURCES = [
  'dashboard', 'domains', 'recipients', 'networks', 'smarthost', 'settings', 'queue', 'trace',
  'quarantine', 'lists', 'policies', 'rules', 'filerules', 'body', 'dkim', 'arc', 'dnsbl',
  'bayes', 'malware', 'users', 'tokens', 'audit', 'system', 'encryption',
  'bayes', 'malware', 'users', 'tokens', 'audit', 'system', 'certificates',
] as const;
export type Resource = (typeof RESOURCES)[number];
export type Permission = `${Resource}.${'read' | 'write'}`;

/** Resources a domain administrator works on, always within its domains. */
const DOMAIN_SCOPED: ReadonlySet<Resource> = new Set(['dashboard', 'domains', 'recipients', 'queue', 'trace', 'quarantine', 'lists', 'policies', 'dkim', 'bayes', 'encryption']);

const ROLE_PERMISSIONS: Record<Role, (p: Permission) => boolean> = {
  admin: () => true,
  // Writes only within its domains (checked by the services through assertDomain);
  // the domain list itself and DKIM keys it may read and edit, not create new domains.
  'domain-admin': (p) => DOMAIN_SCOPED.has(resourceOf(p)) && !(p === 'bayes.write'),
  helpdesk: (p) => p === 'quarantine.read' || p === 'quarantine.write' || p === 'trace.read' || p === 'dashboard.read',
  auditor: (p) => p.endsWith('.read'),
};

export function resourceOf(p: Permission): Resource {
  return p.slice(0, p.lastIndexOf('.')) as Resource;
}

export function roleCan(role: Role, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role](permission);
}
