// Who is asking: every service call carries an Actor, so one mechanism decides what it
// may do (roles and domain scope) and the audit log can say who changed what, whether
// the change came from the console, the REST API, an API token or the CLI.
import { ServiceError } from './service-error.ts';
import { resourceOf, roleCan, type Permission, type Role } from '../shared/permissions.ts';

export { RESOURCES, ROLES, type Permission, type Resource, type Role } from '../shared/permissions.ts';

/**
 * An actor may also be an end user of the portal ('user'): own mail only, through
 * src/services/portal-service.ts; it holds none of the permissions.
 */
export const PORTAL_ROLE = 'user';
export type ActorRole = Role | typeof PORTAL_ROLE;

export interface Actor {
  /** 'link': whoever holds a signed one-click action link (src/portal/action-links.ts). */
  kind: 'user' | 'token' | 'cli' | 'system' | 'link';
  /** Account id, token id, or the OS user for the CLI. */
  id: string;
  /** What the audit log shows: user name, token name, "cli:root", "system". */
  name: string;
  role: ActorRole;
  /** Domains a domain administrator is limited to; null means every domain. */
  domains: readonly string[] | null;
  /** Client address of the request (console/API), absent for CLI and system. */
  address?: string;
}

export function can(actor: Actor, permission: Permission): boolean {
  return actor.role !== PORTAL_ROLE && roleCan(actor.role, permission);
}

export function assertCan(actor: Actor, permission: Permission): void {
  if (!can(actor, permission)) {
    throw new ServiceError('forbidden', `your role (${actor.role}) may not ${permission.endsWith('.write') ? 'change' : 'see'} ${resourceOf(permission)}`);
  }
}

/** True when the actor may act on mail or settings of this domain. */
export function canSeeDomain(actor: Actor, domain: string): boolean {
  if (actor.domains === null) return true;
  const d = domain.toLowerCase();
  return actor.domains.some((own) => d === own || d.endsWith(`.${own}`));
}

export function assertDomain(actor: Actor, domain: string): void {
  if (!canSeeDomain(actor, domain)) throw new ServiceError('forbidden', `you are not an administrator of ${domain}`);
}

/** The domain part of an address (lower case), for domain-scope checks. */
export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

/** The CLI acts with full rights: whoever can run it can read the data directory anyway. */
export function cliActor(): Actor {
  const user = process.env.SUDO_USER ?? process.env.USER ?? String(process.getuid?.() ?? 'unknown');
  return { kind: 'cli', id: user, name: `cli:${user}`, role: 'admin', domains: null };
}

/** The gateway itself (retention purges, automatic key rotation, ...). */
export const SYSTEM_ACTOR: Actor = { kind: 'system', id: 'system', name: 'system', role: 'admin', domains: null };
