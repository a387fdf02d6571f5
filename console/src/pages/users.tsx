// Console accounts and their roles.
import { useState } from 'preact/hooks';
import { get, patch, post, type Page } from '../api.ts';
import { Badge, Empty, ErrorNotice, Field, PageHeader, Show, useAction, useLoad, when } from '../components.tsx';
import type { User } from '../session.ts';

interface UserInfo {
  id: string;
  username: string;
  role: User['role'];
  domains: string[] | null;
  mustChangePassword: boolean;
  totpEnabled: boolean;
  disabled: boolean;
  lastLoginAt: string | null;
  lastLoginAddress: string | null;
}

const ROLES: Array<[User['role'], string]> = [
  ['admin', 'Administrator: everything'],
  ['domain-admin', 'Domain administrator: its domains only'],
  ['helpdesk', 'Helpdesk: quarantine and trace'],
  ['auditor', 'Auditor: read everything, change nothing'],
];

export function UsersPage({ user }: { user: User }) {
  const users = useLoad(() => get<Page<UserInfo>>('/api/v1/users?limit=500'), []);
  const action = useAction();
  const [secret, setSecret] = useState<{ username: string; password: string } | null>(null);
  const admin = user.role === 'admin';
  const resetPassword = (u: UserInfo) =>
    void action.run(async () => {
      const r = await post<{ temporaryPassword?: string; password?: string }>(`/api/v1/users/${encodeURIComponent(u.id)}/reset-password`);
      setSecret({ username: u.username, password: r.temporaryPassword ?? r.password ?? '' });
      users.reload();
    });
  return (
    <>
      <PageHeader title="Users" intro="People who sign in to this console. Each has one role; domain administrators are limited to their domains everywhere." />
      {admin && <AddUser onAdded={(u, p) => { setSecret({ username: u, password: p }); users.reload(); }} />}
      {secret && (
        <div class="notice ok" data-testid="new-password">
          Password for <strong>{secret.username}</strong>: <code>{secret.password}</code> — shown only now. Pass it on safely; it must be changed at first sign-in.
        </div>
      )}
      {action.error !== null && <ErrorNotice error={action.error} />}
      <Show value={users}>
        {(page) =>
          page.items.length === 0 ? (
            <Empty title="No users">Create an account for each person who manages mail.</Empty>
          ) : (
            <table class="list" data-testid="users">
              <thead>
                <tr>
                  <th>User</th>
                  <th>Role</th>
                  <th>2FA</th>
                  <th>Last sign-in</th>
                  {admin && <th />}
                </tr>
              </thead>
              <tbody>
                {page.items.map((u) => (
                  <tr key={u.id}>
                    <td>
                      <strong>{u.username}</strong> {u.disabled && <Badge kind="rejected">disabled</Badge>} {u.mustChangePassword && <Badge kind="deferred">must change password</Badge>}
                    </td>
                    <td>
                      {u.role}
                      {u.domains && <div class="muted">{u.domains.join(', ')}</div>}
                    </td>
                    <td>{u.totpEnabled ? <Badge kind="ok">on</Badge> : <span class="muted">off</span>}</td>
                    <td>
                      {when(u.lastLoginAt)} <span class="muted">{u.lastLoginAddress ?? ''}</span>
                    </td>
                    {admin && (
                      <td class="row-actions">
                        <button class="small secondary" onClick={() => resetPassword(u)}>
                          Reset password
                        </button>
                        {u.id !== user.id && (
                          <button class="small secondary" onClick={() => void action.run(() => patch(`/api/v1/users/${encodeURIComponent(u.id)}`, { disabled: !u.disabled })).then((ok) => ok && users.reload())}>
                            {u.disabled ? 'Enable' : 'Disable'}
                          </button>
                        )}
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Show>
    </>
  );
}

function AddUser({ onAdded }: { onAdded: (username: string, password: string) => void }) {
  const [username, setUsername] = useState('');
  const [role, setRole] = useState<User['role']>('helpdesk');
  const [domains, setDomains] = useState('');
  const action = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    await action.run(async () => {
      const r = await post<{ user?: UserInfo; password?: string; temporaryPassword?: string }>('/api/v1/users', {
        username,
        role,
        domains: role === 'domain-admin' ? domains.split(/[\s,]+/).filter(Boolean) : null,
      });
      onAdded(username, r.temporaryPassword ?? r.password ?? '');
      setUsername('');
    });
  };
  return (
    <form class="card inline-form" onSubmit={(e) => void submit(e)} aria-label="Add a user">
      <h2>Add a user</h2>
      {action.error !== null && <ErrorNotice error={action.error} />}
      <div class="row">
        <Field label="User name">
          <input name="username" required value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
        </Field>
        <Field label="Role">
          <select name="role" value={role} onChange={(e) => setRole(e.currentTarget.value as User['role'])}>
            {ROLES.map(([r, label]) => (
              <option key={r} value={r}>
                {label}
              </option>
            ))}
          </select>
        </Field>
        {role === 'domain-admin' && (
          <Field label="Domains" hint="comma separated">
            <input name="domains" required value={domains} onInput={(e) => setDomains(e.currentTarget.value)} />
          </Field>
        )}
        <button type="submit" disabled={action.busy}>
          Add user
        </button>
      </div>
    </form>
  );
}
