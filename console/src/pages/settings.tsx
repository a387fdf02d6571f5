// Gateway settings held in the database: limits, retry schedule, filter levels, ...
import { useState } from 'preact/hooks';
import { del, get, put } from '../api.ts';
import { ErrorNotice, PageHeader, Show, useAction, useLoad } from '../components.tsx';
import type { User } from '../session.ts';

interface Setting {
  key: string;
  value: unknown;
  default?: unknown;
  description?: string;
  isDefault?: boolean;
}

export function SettingsPage({ user }: { user: User }) {
  const settings = useLoad(() => get<{ items: Setting[] }>('/api/v1/settings'), []);
  const action = useAction();
  const [editing, setEditing] = useState<{ key: string; text: string } | null>(null);
  const admin = user.role === 'admin';
  const save = () => {
    if (!editing) return;
    let value: unknown = editing.text;
    try {
      value = JSON.parse(editing.text);
    } catch {
      // plain text value
    }
    void action.run(() => put(`/api/v1/settings/${encodeURIComponent(editing.key)}`, { value })).then((ok) => {
      if (ok) {
        setEditing(null);
        settings.reload();
      }
    });
  };
  return (
    <>
      <PageHeader title="Settings" intro="Gateway-wide settings. Changes apply to the running gateway at once." />
      {action.error !== null && <ErrorNotice error={action.error} />}
      <Show value={settings}>
        {(s) => (
          <table class="list" data-testid="settings">
            <thead>
              <tr>
                <th>Setting</th>
                <th>Value</th>
                {admin && <th />}
              </tr>
            </thead>
            <tbody>
              {s.items.map((x) => (
                <tr key={x.key}>
                  <td>
                    <code>{x.key}</code>
                    {x.description && <div class="muted">{x.description}</div>}
                  </td>
                  <td>
                    {editing?.key === x.key ? (
                      <input aria-label={`value of ${x.key}`} value={editing.text} onInput={(e) => setEditing({ key: x.key, text: e.currentTarget.value })} />
                    ) : (
                      <code>{JSON.stringify(x.value)}</code>
                    )}
                    {x.isDefault === false && <span class="muted"> (changed)</span>}
                  </td>
                  {admin && (
                    <td class="row-actions">
                      {editing?.key === x.key ? (
                        <>
                          <button class="small" onClick={save}>
                            Save
                          </button>
                          <button class="small secondary" onClick={() => setEditing(null)}>
                            Cancel
                          </button>
                        </>
                      ) : (
                        <>
                          <button class="small secondary" onClick={() => setEditing({ key: x.key, text: JSON.stringify(x.value) })}>
                            Edit
                          </button>
                          {x.isDefault === false && (
                            <button class="small secondary" onClick={() => void action.run(() => del(`/api/v1/settings/${encodeURIComponent(x.key)}`)).then((ok) => ok && settings.reload())}>
                              Reset
                            </button>
                          )}
                        </>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Show>
    </>
  );
}
