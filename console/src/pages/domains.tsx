// Relay domains: the domains this gateway accepts mail for, and where it passes it on.
import { useState } from 'preact/hooks';
import { del, get, post, type Page } from '../api.ts';
import { Badge, Empty, ErrorNotice, Field, PageHeader, Show, useAction, useLoad, when } from '../components.tsx';
import { canWrite, type User } from '../session.ts';

interface RelayDomain {
  domain: string;
  nextHop: string | null;
  requireTls: boolean;
  recipientMode: 'any' | 'specified';
  createdAt: string | null;
}

export function DomainsPage({ user }: { user: User }) {
  const domains = useLoad(() => get<Page<RelayDomain>>('/api/v1/domains?limit=500'), []);
  const remove = useAction();
  const admin = user.role === 'admin';
  return (
    <>
      <PageHeader title="Relay domains" intro="Mail for these domains is accepted, checked and passed on to your mail server (the next hop), or to the domain's MX when none is set." />
      {admin && <AddDomain onAdded={domains.reload} />}
      {remove.error !== null && <ErrorNotice error={remove.error} />}
      <Show value={domains}>
        {(page) =>
          page.items.length === 0 ? (
            <Empty title="No relay domains yet">
              Add the domain you receive mail for, with your mail server as its next hop. Until then the gateway refuses all inbound mail (it is never an open relay).
            </Empty>
          ) : (
            <table class="list" data-testid="domains">
              <thead>
                <tr>
                  <th>Domain</th>
                  <th>Next hop</th>
                  <th>Recipients</th>
                  <th>TLS</th>
                  <th>Added</th>
                  {admin && <th />}
                </tr>
              </thead>
              <tbody>
                {page.items.map((d) => (
                  <tr key={d.domain}>
                    <td>
                      <strong>{d.domain}</strong>
                    </td>
                    <td>{d.nextHop ?? <span class="muted">MX lookup</span>}</td>
                    <td>{d.recipientMode === 'any' ? 'any address' : 'listed addresses only'}</td>
                    <td>{d.requireTls ? <Badge kind="ok">required</Badge> : <span class="muted">opportunistic</span>}</td>
                    <td>{when(d.createdAt)}</td>
                    {admin && canWrite(user) && (
                      <td class="row-actions">
                        <button
                          class="danger small"
                          disabled={remove.busy}
                          onClick={() => {
                            if (confirm(`Stop accepting mail for ${d.domain}?`)) void remove.run(() => del(`/api/v1/domains/${encodeURIComponent(d.domain)}`)).then((ok) => ok && domains.reload());
                          }}
                        >
                          Remove
                        </button>
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

function AddDomain({ onAdded }: { onAdded: () => void }) {
  const [domain, setDomain] = useState('');
  const [nextHop, setNextHop] = useState('');
  const [mode, setMode] = useState<'any' | 'specified'>('any');
  const [requireTls, setRequireTls] = useState(false);
  const action = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    const ok = await action.run(() => post('/api/v1/domains', { domain, nextHop: nextHop || null, recipientMode: mode, requireTls }));
    if (ok) {
      setDomain('');
      setNextHop('');
      onAdded();
    }
  };
  return (
    <form class="card inline-form" onSubmit={(e) => void submit(e)} aria-label="Add a relay domain">
      <h2>Add a relay domain</h2>
      {action.error !== null && <ErrorNotice error={action.error} />}
      <div class="row">
        <Field label="Domain">
          <input name="domain" placeholder="example.org" required value={domain} onInput={(e) => setDomain(e.currentTarget.value)} />
        </Field>
        <Field label="Next hop" hint="host or host:port of your mail server; empty = MX lookup">
          <input name="nextHop" placeholder="10.0.0.5:25" value={nextHop} onInput={(e) => setNextHop(e.currentTarget.value)} />
        </Field>
        <Field label="Accept">
          <select name="recipientMode" value={mode} onChange={(e) => setMode(e.currentTarget.value as 'any' | 'specified')}>
            <option value="any">any address</option>
            <option value="specified">listed addresses only</option>
          </select>
        </Field>
        <label class="check">
          <input type="checkbox" checked={requireTls} onChange={(e) => setRequireTls(e.currentTarget.checked)} /> Require TLS to the next hop
        </label>
        <button type="submit" disabled={action.busy}>
          Add domain
        </button>
      </div>
    </form>
  );
}
