// The signed-in user, as GET /api/v1/session reports it.
export interface User {
  id: string;
  username: string;
  role: 'admin' | 'domain-admin' | 'helpdesk' | 'auditor';
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

/** Whether the role may change things (the server decides; this only hides buttons). */
export function canWrite(user: User): boolean {
  return user.role !== 'auditor';
}
