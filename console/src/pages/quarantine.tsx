// Held mail: search, look at a message safely, release it, learn from it, delete it.
// A held message is hostile until proven otherwise: its HTML (already sanitised by the
// server) is shown only inside an iframe sandboxed with no permissions at all, so even
// markup the sanitiser missed cannot run script, submit forms or reach the console.
import { useEffect, useState } from 'preact/hooks';
import { del, get, post } from '../api.ts';
import { Badge, ErrorNotice, Field, PageHeader, Show, bytes, useAction, useLoad, when } from '../components.tsx';
import { ShowPaged, usePagedList } from '../paged-list.tsx';
import { go, href } from '../router.ts';
import { canWrite, type User } from '../session.ts';
import type { MessageRendering as Rendering, QuarantineDetail, QuarantineItem } from '../../../src/shared/quarantine.ts';

const CATEGORIES = ['', 'spam', 'malware', 'banned', 'rule', 'policy', 'malformed'];

export function QuarantinePage({ user, id }: { user: User; id?: string }) {
  return id ? <QuarantineDetailView user={user} id={id} /> : <QuarantineList user={user} />;
}

function QuarantineList({ user }: { user: User }) {
  const [filters, setFilters] = useState({ recipient: '', sender: '', category: '', state: 'held' });
  const [applied, setApplied] = useState(filters);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const list = usePagedList<QuarantineItem>('/api/v1/quarantine', applied);
  // A new first page (other filters, or after a bulk action) starts with nothing selected.
  useEffect(() => setSelected(new Set()), [list.generation]);
  const bulk = useAction();
  const runBulk = (action: string) =>
    void bulk.run(() => post('/api/v1/quarantine/bulk', { ids: [...selected], action })).then((ok) => ok && list.reload());
  const toggle = (qid: string) =>
    setSelected((s) => {
      const n = new Set(s);
      if (n.has(qid)) n.delete(qid);
      else n.add(qid);
      return n;
    });
  return (
    <>
      <PageHeader title="Quarantine" intro="Messages held by the content filter. Release what was wrongly held (and teach the filter), delete the rest; held mail is deleted after the retention period." />
      <form
        class="card filters"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(filters);
        }}
      >
        <Field label="Recipient">
          <input name="recipient" value={filters.recipient} onInput={(e) => setFilters({ ...filters, recipient: e.currentTarget.value })} placeholder="alice@example.org" />
        </Field>
        <Field label="Sender">
          <input name="sender" value={filters.sender} onInput={(e) => setFilters({ ...filters, sender: e.currentTarget.value })} />
        </Field>
        <Field label="Category">
          <select name="category" value={filters.category} onChange={(e) => setFilters({ ...filters, category: e.currentTarget.value })}>
            {CATEGORIES.map((c) => (
              <option key={c} value={c}>
                {c || 'any'}
              </option>
            ))}
          </select>
        </Field>
        <Field label="State">
          <select name="state" value={filters.state} onChange={(e) => setFilters({ ...filters, state: e.currentTarget.value })}>
            {['held', 'released', 'deleted', 'all'].map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </Field>
        <button type="submit">Search</button>
      </form>
      {bulk.error !== null && <ErrorNotice error={bulk.error} />}
      {selected.size > 0 && canWrite(user) && (
        <div class="bulkbar">
          {selected.size} selected:
          <button onClick={() => runBulk('release')}>Release</button>
          <button class="secondary" onClick={() => runBulk('learn-spam')}>
            Learn as spam
          </button>
          <button class="danger" onClick={() => runBulk('delete')}>
            Delete
          </button>
        </div>
      )}
      <ShowPaged
        list={list}
        emptyTitle="Nothing held"
        empty="No message matches. The quarantine fills when the content filter holds spam, malware or banned attachments; change the filters above to see released or deleted mail."
      >
        {(rows) => (
          <table class="list" data-testid="quarantine">
            <thead>
              <tr>
                <th />
                <th>Held</th>
                <th>From</th>
                <th>To</th>
                <th>Subject</th>
                <th>Why</th>
                <th class="num">Score</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((q) => (
                <tr key={q.id} class="clickable" onClick={() => go('quarantine', q.id)}>
                  <td onClick={(e) => e.stopPropagation()}>
                    <input type="checkbox" aria-label="select" checked={selected.has(q.id)} onChange={() => toggle(q.id)} />
                  </td>
                  <td>{when(q.heldAt)}</td>
                  <td class="clip">{q.headerFrom ?? q.from}</td>
                  <td class="clip">{q.recipients.map((r) => r.address).join(', ')}</td>
                  <td class="clip">
                    <a href={href('quarantine', q.id)}>{q.subject ?? '(no subject)'}</a>
                  </td>
                  <td>
                    <Badge kind={q.category}>{q.category}</Badge>
                  </td>
                  <td class="num">{q.score?.toFixed(1) ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </ShowPaged>
    </>
  );
}

function QuarantineDetailView({ user, id }: { user: User; id: string }) {
  const detail = useLoad(() => get<QuarantineDetail>(`/api/v1/quarantine/${encodeURIComponent(id)}`), [id]);
  const [allowRemote, setAllowRemote] = useState(false);
  const rendering = useLoad(() => get<Rendering>(`/api/v1/quarantine/${encodeURIComponent(id)}/rendering${allowRemote ? '?allowRemote=true' : ''}`), [id, allowRemote]);
  const [showHtml, setShowHtml] = useState(true);
  const action = useAction();
  const [done, setDone] = useState<string | null>(null);
  const act = (label: string, fn: () => Promise<unknown>) =>
    void action.run(fn).then((ok) => {
      if (ok) {
        setDone(label);
        detail.reload();
      }
    });
  const path = `/api/v1/quarantine/${encodeURIComponent(id)}`;
  return (
    <>
      <p>
        <a href={href('quarantine')}>← Quarantine</a>
      </p>
      <Show value={detail}>
        {(q) => (
          <>
            <PageHeader title={q.subject ?? '(no subject)'} intro={`From ${q.headerFrom ?? q.from}, held ${when(q.heldAt)}: ${q.reason}`}>
              {canWrite(user) && q.state === 'held' && (
                <>
                  <button disabled={action.busy} onClick={() => act('Released: the message is on its way to its recipients.', () => post(`${path}/release`))}>
                    Release
                  </button>
                  <button class="secondary" disabled={action.busy} onClick={() => act('Released and learned as not spam.', () => post(`${path}/release`, { learnHam: true }))}>
                    Release as not spam
                  </button>
                  <button class="secondary" disabled={action.busy} onClick={() => act('Learned as spam.', () => post(`${path}/learn`, { as: 'spam' }))}>
                    Learn as spam
                  </button>
                  <button
                    class="danger"
                    disabled={action.busy}
                    onClick={() => {
                      if (confirm('Delete this message for good?')) act('Deleted.', () => del(path));
                    }}
                  >
                    Delete
                  </button>
                </>
              )}
            </PageHeader>
            {done && <div class="notice ok">{done}</div>}
            {action.error !== null && <ErrorNotice error={action.error} />}
            <div class="two">
              <section class="card">
                <h2>Message</h2>
                <dl class="facts">
                  <dt>State</dt>
                  <dd>
                    <Badge kind={q.state}>{q.state}</Badge>
                  </dd>
                  <dt>Category</dt>
                  <dd>
                    <Badge kind={q.category}>{q.category}</Badge> {q.score !== null && `score ${q.score.toFixed(1)}`}
                  </dd>
                  <dt>Envelope sender</dt>
                  <dd>{q.from || '<>'}</dd>
                  <dt>Recipients</dt>
                  <dd>
                    {q.recipients.map((r) => (
                      <div key={r.address}>
                        {r.address} <span class="muted">({r.state})</span>
                      </div>
                    ))}
                  </dd>
                  <dt>Size</dt>
                  <dd>{bytes(q.size)}</dd>
                  <dt>Trace</dt>
                  <dd>
                    <a href={href('trace', q.queueId)}>{q.queueId}</a>
                  </dd>
                </dl>
              </section>
              <section class="card">
                <h2>Checks</h2>
                {q.symbols.length === 0 ? (
                  <p class="muted">No scored checks.</p>
                ) : (
                  <table>
                    <tbody>
                      {q.symbols.map((s) => (
                        <tr key={s.name}>
                          <td>
                            <code>{s.name}</code>
                            {s.description && <div class="muted">{s.description}</div>}
                          </td>
                          <td class="num">{s.score.toFixed(2)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                )}
              </section>
            </div>
            <section class="card">
              <h2>Content</h2>
              <Show value={rendering}>
                {(r) => (
                  <>
                    <div class="toolbar">
                      {r.kind === 'html' && (
                        <button class="secondary small" onClick={() => setShowHtml(!showHtml)}>
                          {showHtml ? 'Show as text' : 'Show formatted'}
                        </button>
                      )}
                      {r.blockedRemote > 0 && !allowRemote && (
                        <span class="notice warn inline">
                          {r.blockedRemote} remote image(s) blocked.{' '}
                          <button class="link" onClick={() => setAllowRemote(true)}>
                            Load them
                          </button>
                        </span>
                      )}
                    </div>
                    {r.kind === 'html' && showHtml && r.html !== null ? (
                      <iframe class="message" title="Message content" sandbox="" srcDoc={r.html} referrerpolicy="no-referrer" />
                    ) : (
                      <pre class="message-text">{r.text}</pre>
                    )}
                    {r.attachments.length > 0 && (
                      <p>
                        Attachments:{' '}
                        {r.attachments.map((a, i) => (
                          <span key={i} class="chip">
                            {a.filename ?? '(unnamed)'} <span class="muted">{a.mimeType}, {bytes(a.size)}</span>
                          </span>
                        ))}
                      </p>
                    )}
                  </>
                )}
              </Show>
            </section>
            <section class="card">
              <h2>Headers</h2>
              <table class="headers">
                <tbody>
                  {q.headers.map((h, i) => (
                    <tr key={i}>
                      <th>{h.name}</th>
                      <td>{h.value}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
          </>
        )}
      </Show>
    </>
  );
}
