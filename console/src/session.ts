// The signed-in user, as GET /api/v1/session reports it, and what its role may do.
import { roleCan, type Permission, type Role } from '../../src/shared/permissions.ts';

export type { Permission };

export interface User {
  id: string;
  username: string;
  role: Role;
  domains: string[] | null;
  mustChangePassword: boolean;
  totpEnabled: boolean;
  /** Set when the role requires 2FA and the user has not enrolled yet. */
  mustEnrolTotp?: boolean;
}

export interface SessionInfo {
  user: User;
  csrfToken: string;
}

/** Whether the role may do this: the server's own table (src/shared/permissions.ts), used to hide pages and buttons; the server checks again. */
export function userCan(user: User, permission: Permission): boolean {
  return roleCan(user.role, permission);
}

/** Whether the role may change things at all (auditors read only). */
export function canWrite(user: User): boolean {
  return user.role !== 'auditor';
}
