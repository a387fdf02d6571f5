// Allow and block lists: senders (address, domain, client network) whose mail skips the
// checks or is refused, globally or for one recipient's or domain's own mail.
import { useState } from 'preact/hooks';
import { del, post } from '../api.ts';
import { ErrorNotice, Field, PageHeader, ReadOnlyNotice, useAction, when } from '../components.tsx';
import { LIST_DESCRIPTIONS, LIST_NAMES, type ListEntry } from '../filter-types.ts';
import { ShowPaged, usePagedList } from '../paged-list.tsx';
import { userCan, type User } from '../session.ts';

export function ListsPage({ user }: { user: User }) {
  const [filters, setFilters] = useState({ list: '', owner: '' });
  const [applied, setApplied] = useState(filters);
  const list = usePagedList<ListEntry>('/api/v1/lists', applied, 100);
  const writable = userCan(user, 'lists.write');
  const remove = useAction();
  return (
    <>
      <PageHeader title="Allow and block lists" intro="Senders to trust or refuse. A global entry applies to all mail; an entry owned by a recipient or a domain applies to mail for it only." />
      {!writable && <ReadOnlyNotice what="the lists" />}
      {writable && <AddEntry user={user} onAdded={list.reload} />}
      <form
        class="card filters"
        aria-label="Filter list entries"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(filters);
        }}
      >
        <Field label="List">
          <select name="list" value={filters.list} onChange={(e) => setFilters({ ...filters, list: e.currentTarget.value })}>
            <option value="">all lists</option>
            {LIST_NAMES.map((l) => (
              <option key={l}>{l}</option>
            ))}
          </select>
        </Field>
        <Field label="Owner" hint="a recipient or domain; empty: every owner">
          <input name="owner" value={filters.owner} onInput={(e) => setFilters({ ...filters, owner: e.currentTarget.value })} />
        </Field>
        <button type="submit" class="secondary">
          Filter
        </button>
      </form>
      {remove.error !== null && <ErrorNotice error={remove.error} />}
      <ShowPaged list={list} emptyTitle="No list entries" empty="Add a sender above: block a domain that sends you junk, or allow a partner whose mail the spam checks wrongly hold.">
        {(rows) => (
          <table class="list" data-testid="lists">
            <thead>
              <tr>
                <th>List</th>
                <th>Entry</th>
                <th>For</th>
                <th>Comment</th>
                <th>Added</th>
                {writable && <th />}
              </tr>
            </thead>
            <tbody>
              {rows.map((e) => (
                <tr key={e.id}>
                  <td>
                    <span class={`badge ${e.list === 'block' ? 'rejected' : 'ok'}`}>{e.list}</span>
                  </td>
                  <td>
                    <strong>{e.value}</strong> <span class="muted">({e.kind})</span>
                  </td>
                  <td>{e.owner || <span class="muted">everyone (global)</span>}</td>
                  <td class="clip">{e.comment ?? ''}</td>
                  <td>{when(e.createdAt)}</td>
                  {writable && (
                    <td class="row-actions">
                      <button class="small danger" disabled={remove.busy} onClick={() => void remove.run(() => del(`/api/v1/lists/${e.id}`)).then((ok) => ok && list.reload())}>
                        Remove
                      </button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </ShowPaged>
    </>
  );
}

function AddEntry({ user, onAdded }: { user: User; onAdded: () => void }) {
  const [f, setF] = useState({ list: 'block', value: '', owner: user.domains?.[0] ?? '', comment: '' });
  const action = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    const ok = await action.run(() => post('/api/v1/lists', { list: f.list, value: f.value, ...(f.owner ? { owner: f.owner } : {}), ...(f.comment ? { comment: f.comment } : {}) }));
    if (ok) {
      setF({ ...f, value: '', comment: '' });
      onAdded();
    }
  };
  return (
    <form class="card inline-form" aria-label="Add a list entry" onSubmit={(e) => void submit(e)}>
      <h2>Add an entry</h2>
      {action.error !== null && <ErrorNotice error={action.error} />}
      <div class="row">
        <Field label="List" hint={LIST_DESCRIPTIONS[f.list as keyof typeof LIST_DESCRIPTIONS]}>
          <select name="list" value={f.list} onChange={(e) => setF({ ...f, list: e.currentTarget.value })}>
            {LIST_NAMES.map((l) => (
              <option key={l}>{l}</option>
            ))}
          </select>
        </Field>
        <Field label="Sender" hint="address, domain, or network (192.0.2.0/24)">
          <input name="value" required value={f.value} onInput={(e) => setF({ ...f, value: e.currentTarget.value })} placeholder="junk.example" />
        </Field>
        <Field label="For" hint={user.domains ? 'a recipient or domain of yours' : 'a recipient or domain; empty: everyone'}>
          <input name="owner" value={f.owner} onInput={(e) => setF({ ...f, owner: e.currentTarget.value })} />
        </Field>
        <Field label="Comment">
          <input name="comment" value={f.comment} onInput={(e) => setF({ ...f, comment: e.currentTarget.value })} />
        </Field>
        <button type="submit" disabled={action.busy}>
          Add
        </button>
      </div>
    </form>
  );
}
