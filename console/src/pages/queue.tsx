// The delivery queue: what waits, why, and what to do about it.
import { useState } from 'preact/hooks';
import { del, post } from '../api.ts';
import { Badge, ErrorNotice, Field, PageHeader, bytes, useAction, when } from '../components.tsx';
import { ShowPaged, usePagedList } from '../paged-list.tsx';
import { href } from '../router.ts';
import { canWrite, type User } from '../session.ts';
import type { QueueEntry } from '../../../src/shared/queue.ts';

export function QueuePage({ user }: { user: User }) {
  const [filters, setFilters] = useState({ recipient: '', sender: '', status: '' });
  const [applied, setApplied] = useState(filters);
  const list = usePagedList<QueueEntry>('/api/v1/queue', applied, 100);
  const action = useAction();
  const act = (fn: () => Promise<unknown>) => void action.run(fn).then((ok) => ok && list.reload());
  const path = (id: string) => `/api/v1/queue/${encodeURIComponent(id)}`;
  return (
    <>
      <PageHeader title="Queue" intro="Messages accepted and waiting for delivery. Deferred ones are retried on the retry schedule; a message that keeps failing bounces to its sender when it expires.">
        {canWrite(user) && (
          <button class="secondary" onClick={() => act(() => post('/api/v1/queue/retry'))}>
            Retry all now
          </button>
        )}
      </PageHeader>
      <form
        class="card filters"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(filters);
        }}
      >
        <Field label="Recipient">
          <input name="recipient" value={filters.recipient} onInput={(e) => setFilters({ ...filters, recipient: e.currentTarget.value })} />
        </Field>
        <Field label="Sender">
          <input name="sender" value={filters.sender} onInput={(e) => setFilters({ ...filters, sender: e.currentTarget.value })} />
        </Field>
        <Field label="Status">
          <select name="status" value={filters.status} onChange={(e) => setFilters({ ...filters, status: e.currentTarget.value })}>
            {['', 'queued', 'deferred', 'held'].map((s) => (
              <option key={s} value={s}>
                {s || 'any'}
              </option>
            ))}
          </select>
        </Field>
        <button type="submit">Filter</button>
      </form>
      {action.error !== null && <ErrorNotice error={action.error} />}
      <ShowPaged list={list} emptyTitle="The queue is empty" empty="Every accepted message has been delivered (or no message matches the filters). Messages appear here while they wait for a retry.">
        {(rows) => (
          <table class="list" data-testid="queue">
            <thead>
              <tr>
                <th>Received</th>
                <th>From</th>
                <th>To</th>
                <th>Status</th>
                <th>Next attempt</th>
                <th>Last reply</th>
                <th class="num">Size</th>
                {canWrite(user) && <th />}
              </tr>
            </thead>
            <tbody>
              {rows.map((q) => (
                <tr key={q.id + q.recipient}>
                  <td>
                    <a href={href('trace', q.id)}>{when(q.receivedAt)}</a>
                  </td>
                  <td class="clip">{q.from || '<>'}</td>
                  <td class="clip">{q.recipient}</td>
                  <td>
                    <Badge kind={q.status}>{q.status}</Badge> <span class="muted">{q.attempts} tries</span>
                  </td>
                  <td>{q.status === 'held' ? 'held' : when(q.nextAttemptAt)}</td>
                  <td class="clip muted">{q.lastReply ?? ''}</td>
                  <td class="num">{bytes(q.size)}</td>
                  {canWrite(user) && (
                    <td class="row-actions">
                      {q.status === 'held' ? (
                        <button class="small" onClick={() => act(() => post(`${path(q.id)}/release`))}>
                          Release
                        </button>
                      ) : (
                        <>
                          <button class="small secondary" onClick={() => act(() => post(`${path(q.id)}/retry`))}>
                            Retry
                          </button>
                          <button class="small secondary" onClick={() => act(() => post(`${path(q.id)}/hold`))}>
                            Hold
                          </button>
                        </>
                      )}
                      <button
                        class="small danger"
                        onClick={() => {
                          if (confirm('Delete this message from the queue? It will not be delivered, and no bounce is sent.')) act(() => del(path(q.id)));
                        }}
                      >
                        Delete
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
