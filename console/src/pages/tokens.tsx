// API tokens for scripts and monitoring: scoped to a role, shown once, revocable.
import { useState } from 'preact/hooks';
import { del, get, post, type Page } from '../api.ts';
import { Badge, Empty, ErrorNotice, Field, PageHeader, Show, useAction, useLoad, when } from '../components.tsx';
import type { User } from '../session.ts';

interface TokenInfo {
  id: string;
  name: string;
  role: User['role'];
  domains: string[] | null;
  expiresAt: string | null;
  allowedCidrs: string[] | null;
  createdBy: string;
  createdAt: string;
  lastUsedAt: string | null;
  lastUsedAddress: string | null;
  revokedAt: string | null;
}

export function TokensPage({ user }: { user: User }) {
  const tokens = useLoad(() => get<Page<TokenInfo>>('/api/v1/tokens?limit=500'), []);
  const [name, setName] = useState('');
  const [role, setRole] = useState<User['role']>('auditor');
  const [expires, setExpires] = useState('');
  const [cidrs, setCidrs] = useState('');
  const [shown, setShown] = useState<string | null>(null);
  const action = useAction();
  const admin = user.role === 'admin';
  const create = async (e: Event) => {
    e.preventDefault();
    await action.run(async () => {
      const r = await post<{ token: string }>('/api/v1/tokens', {
        name,
        role,
        expiresAt: expires ? new Date(expires).toISOString() : null,
        allowedCidrs: cidrs ? cidrs.split(/[\s,]+/).filter(Boolean) : null,
      });
      setShown(r.token);
      setName('');
      tokens.reload();
    });
  };
  return (
    <>
      <PageHeader title="API tokens" intro="Send a token as “Authorization: Bearer …” to use the REST API (reference at /api/docs). A token has a role like a user; it is stored only as a hash." />
      {admin && (
        <form class="card inline-form" onSubmit={(e) => void create(e)} aria-label="Create a token">
          <h2>Create a token</h2>
          <div class="row">
            <Field label="Name">
              <input name="name" required value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="monitoring" />
            </Field>
            <Field label="Role">
              <select name="role" value={role} onChange={(e) => setRole(e.currentTarget.value as User['role'])}>
                {['auditor', 'helpdesk', 'admin'].map((r) => (
                  <option key={r} value={r}>
                    {r}
                  </option>
                ))}
              </select>
            </Field>
            <Field label="Expires">
              <input name="expiresAt" type="date" value={expires} onInput={(e) => setExpires(e.currentTarget.value)} />
            </Field>
            <Field label="Allowed clients" hint="CIDRs, empty = any">
              <input name="allowedCidrs" value={cidrs} onInput={(e) => setCidrs(e.currentTarget.value)} placeholder="10.0.0.0/24" />
            </Field>
            <button type="submit" disabled={action.busy}>
              Create
            </button>
          </div>
        </form>
      )}
      {shown && (
        <div class="notice ok" data-testid="new-token">
          Your new token: <code>{shown}</code> — copy it now, it is not shown again.
        </div>
      )}
      {action.error !== null && <ErrorNotice error={action.error} />}
      <Show value={tokens}>
        {(page) =>
          page.items.length === 0 ? (
            <Empty title="No API tokens">Create one for each script or monitoring system that talks to the gateway, with the least role it needs.</Empty>
          ) : (
            <table class="list" data-testid="tokens">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Role</th>
                  <th>Expires</th>
                  <th>Last used</th>
                  <th>Created</th>
                  {admin && <th />}
                </tr>
              </thead>
              <tbody>
                {page.items.map((t) => (
                  <tr key={t.id}>
                    <td>
                      <strong>{t.name}</strong> {t.revokedAt && <Badge kind="rejected">revoked</Badge>}
                    </td>
                    <td>{t.role}</td>
                    <td>{t.expiresAt ? when(t.expiresAt) : 'never'}</td>
                    <td>
                      {when(t.lastUsedAt)} <span class="muted">{t.lastUsedAddress ?? ''}</span>
                    </td>
                    <td>
                      {when(t.createdAt)} <span class="muted">by {t.createdBy}</span>
                    </td>
                    {admin && (
                      <td class="row-actions">
                        {!t.revokedAt && (
                          <button class="small danger" onClick={() => void action.run(() => del(`/api/v1/tokens/${encodeURIComponent(t.id)}`)).then((ok) => ok && tokens.reload())}>
                            Revoke
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
