// The audit log: who changed what, when, from where, with the state before and after.
import { useState } from 'preact/hooks';
import { get, query, type Page } from '../api.ts';
import { Empty, Field, MoreButton, PageHeader, Show, useLoad, when } from '../components.tsx';

interface AuditEntry {
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

export function AuditPage() {
  const [filters, setFilters] = useState({ actor: '', action: '' });
  const [applied, setApplied] = useState(filters);
  const [extra, setExtra] = useState<AuditEntry[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const list = useLoad(async () => {
    const page = await get<Page<AuditEntry>>('/api/v1/audit' + query({ ...applied, limit: 100 }));
    setExtra([]);
    setCursor(page.nextCursor);
    return page;
  }, [JSON.stringify(applied)]);
  const more = async (c: string) => {
    const page = await get<Page<AuditEntry>>('/api/v1/audit' + query({ ...applied, limit: 100, cursor: c }));
    setExtra((e) => [...e, ...page.items]);
    setCursor(page.nextCursor);
  };
  return (
    <>
      <PageHeader title="Audit log" intro="Every change made through the console, the API or the CLI.">
        <a class="button secondary" href={'/api/v1/audit' + query({ ...applied, format: 'csv' })} download="hermes-audit.csv">
          Export CSV
        </a>
      </PageHeader>
      <form
        class="card filters"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(filters);
        }}
      >
        <Field label="Who">
          <input name="actor" value={filters.actor} onInput={(e) => setFilters({ ...filters, actor: e.currentTarget.value })} placeholder="admin, cli:root" />
        </Field>
        <Field label="Action">
          <input name="action" value={filters.action} onInput={(e) => setFilters({ ...filters, action: e.currentTarget.value })} placeholder="domain.add" />
        </Field>
        <button type="submit">Search</button>
      </form>
      <Show value={list}>
        {(page) => {
          const rows = [...page.items, ...extra];
          if (rows.length === 0) return <Empty title="No changes recorded">Changes to domains, policies, users and quarantined mail appear here as they happen.</Empty>;
          return (
            <>
              <table class="list" data-testid="audit">
                <thead>
                  <tr>
                    <th>When</th>
                    <th>Who</th>
                    <th>Action</th>
                    <th>Target</th>
                    <th>Change</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((e) => (
                    <tr key={e.id}>
                      <td>{when(e.at)}</td>
                      <td>
                        {e.actor.name} <span class="muted">{e.address ?? ''}</span>
                      </td>
                      <td>
                        <code>{e.action}</code>
                      </td>
                      <td class="clip">
                        {e.target.type} {e.target.id}
                      </td>
                      <td>
                        <details>
                          <summary>before / after</summary>
                          <pre>{JSON.stringify({ before: e.before, after: e.after }, null, 2)}</pre>
                        </details>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <MoreButton cursor={cursor} onMore={(c) => void more(c)} />
            </>
          );
        }}
      </Show>
    </>
  );
}
