// The audit log: who changed what, when, from where, with the state before and after.
import { useState } from 'preact/hooks';
import { query } from '../api.ts';
import { Field, PageHeader, when } from '../components.tsx';
import { ShowPaged, usePagedList } from '../paged-list.tsx';
import type { AuditEntry } from '../../../src/shared/audit.ts';

export function AuditPage() {
  const [filters, setFilters] = useState({ actor: '', action: '' });
  const [applied, setApplied] = useState(filters);
  const list = usePagedList<AuditEntry>('/api/v1/audit', applied, 100);
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
      <ShowPaged list={list} emptyTitle="No changes recorded" empty="Changes to domains, policies, users and quarantined mail appear here as they happen; clear the filters above to see every change.">
        {(rows) => (
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
        )}
      </ShowPaged>
    </>
  );
}
