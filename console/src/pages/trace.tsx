// Message trace: find a message by address, subject, Message-ID, queue ID or client,
// then read its whole story: every check, decision, change and delivery attempt.
import { useState } from 'preact/hooks';
import { get } from '../api.ts';
import { Badge, Field, PageHeader, Show, bytes, useLoad, when } from '../components.tsx';
import { ShowPaged, usePagedList } from '../paged-list.tsx';
import { go, href } from '../router.ts';
import type { TraceDetail, TraceSummary } from '../../../src/shared/trace.ts';

const FILTERS = ['address', 'subject', 'messageId', 'queueId', 'clientIp', 'verdict', 'from', 'to'] as const;
type Filters = Record<(typeof FILTERS)[number], string>;

export function TracePage({ id, query: q }: { id?: string; query: URLSearchParams }) {
  return id ? <TraceDetailView id={id} /> : <TraceSearch initial={q} />;
}

function TraceSearch({ initial }: { initial: URLSearchParams }) {
  const start = Object.fromEntries(FILTERS.map((f) => [f, initial.get(f) ?? ''])) as Filters;
  const [filters, setFilters] = useState<Filters>(start);
  const [applied, setApplied] = useState<Filters>(start);
  const list = usePagedList<TraceSummary>('/api/v1/trace', {
    ...applied,
    from: applied.from ? new Date(applied.from).toISOString() : '',
    to: applied.to ? new Date(applied.to).toISOString() : '',
  });
  const set = (k: keyof Filters) => (e: { currentTarget: HTMLInputElement | HTMLSelectElement }) => setFilters({ ...filters, [k]: e.currentTarget.value });
  return (
    <>
      <PageHeader title="Message trace" intro="Every message the gateway received, and what happened to it." />
      <form
        class="card filters"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(filters);
        }}
      >
        <Field label="Address (sender or recipient)">
          <input name="address" value={filters.address} onInput={set('address')} />
        </Field>
        <Field label="Subject contains">
          <input name="subject" value={filters.subject} onInput={set('subject')} />
        </Field>
        <Field label="Message-ID">
          <input name="messageId" value={filters.messageId} onInput={set('messageId')} />
        </Field>
        <Field label="Queue ID">
          <input name="queueId" value={filters.queueId} onInput={set('queueId')} />
        </Field>
        <Field label="Client address">
          <input name="clientIp" value={filters.clientIp} onInput={set('clientIp')} />
        </Field>
        <Field label="Verdict">
          <select name="verdict" value={filters.verdict} onChange={set('verdict')}>
            {['', 'delivered', 'queued', 'deferred', 'quarantined', 'rejected', 'bounced'].map((v) => (
              <option key={v} value={v}>
                {v || 'any'}
              </option>
            ))}
          </select>
        </Field>
        <Field label="From">
          <input name="from" type="datetime-local" value={filters.from} onInput={set('from')} />
        </Field>
        <Field label="To">
          <input name="to" type="datetime-local" value={filters.to} onInput={set('to')} />
        </Field>
        <button type="submit">Search</button>
      </form>
      <ShowPaged list={list} emptyTitle="No messages found" empty="Nothing matches this search. Widen the time range or search by a single address.">
        {(rows) => (
          <table class="list" data-testid="trace">
            <thead>
              <tr>
                <th>Received</th>
                <th>From</th>
                <th>To</th>
                <th>Subject</th>
                <th>Verdict</th>
                <th class="num">Size</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((m) => (
                <tr key={m.id} class="clickable" onClick={() => go('trace', m.id)}>
                  <td>{when(m.receivedAt)}</td>
                  <td class="clip">{m.from || '<>'}</td>
                  <td class="clip">{m.recipients.map((r) => r.address).join(', ')}</td>
                  <td class="clip">
                    <a href={href('trace', m.id)}>{m.subject ?? '(no subject)'}</a>
                  </td>
                  <td>
                    <Badge kind={m.verdict}>{m.verdict}</Badge>
                  </td>
                  <td class="num">{bytes(m.size)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </ShowPaged>
    </>
  );
}

function TraceDetailView({ id }: { id: string }) {
  const detail = useLoad(() => get<TraceDetail>(`/api/v1/trace/${encodeURIComponent(id)}`), [id]);
  return (
    <>
      <p>
        <a href={href('trace')}>← Message trace</a>
      </p>
      <Show value={detail}>
        {(m) => (
          <>
            <PageHeader title={m.subject ?? '(no subject)'} intro={`Queue ID ${m.id}, received ${when(m.receivedAt)} from ${m.clientIp ?? 'the gateway itself'}`}>
              <Badge kind={m.verdict}>{m.verdict}</Badge>
            </PageHeader>
            <div class="two">
              <section class="card">
                <h2>Envelope</h2>
                <dl class="facts">
                  <dt>Direction</dt>
                  <dd>{m.direction}</dd>
                  <dt>Sender</dt>
                  <dd>{m.from || '<>'}</dd>
                  <dt>Message-ID</dt>
                  <dd class="clip">{m.messageId ?? '—'}</dd>
                  <dt>Client</dt>
                  <dd>
                    {m.clientIp ?? '—'} {m.clientPtr && <span class="muted">({m.clientPtr})</span>} {m.clientHelo && <span class="muted">HELO {m.clientHelo}</span>}
                  </dd>
                  <dt>TLS</dt>
                  <dd>{m.tls ?? 'none'}</dd>
                  <dt>Size</dt>
                  <dd>{bytes(m.size)}</dd>
                  {m.parentId && (
                    <>
                      <dt>{m.parentLabel ?? 'Parent'}</dt>
                      <dd>
                        <a href={href('trace', m.parentId)}>{m.parentId}</a>
                      </dd>
                    </>
                  )}
                  {m.quarantineIds.length > 0 && (
                    <>
                      <dt>Quarantine</dt>
                      <dd>
                        {m.quarantineIds.map((q) => (
                          <a key={q} href={href('quarantine', q)}>
                            {q}{' '}
                          </a>
                        ))}
                      </dd>
                    </>
                  )}
                </dl>
              </section>
              <section class="card">
                <h2>Recipients</h2>
                <table>
                  <tbody>
                    {m.recipients.map((r) => (
                      <tr key={r.address}>
                        <td>{r.address}</td>
                        <td>
                          <Badge kind={r.status}>{r.status}</Badge>
                        </td>
                        <td class="muted clip">{r.lastReply ?? ''}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
                {m.children.length > 0 && (
                  <p>
                    Related:{' '}
                    {m.children.map((c) => (
                      <a key={c.id} href={href('trace', c.id)}>
                        {c.id} ({c.direction}){' '}
                      </a>
                    ))}
                  </p>
                )}
              </section>
            </div>
            <section class="card">
              <h2>Timeline</h2>
              <ol class="timeline" data-testid="timeline">
                {m.events.map((e) => (
                  <li key={e.id}>
                    <span class="at">{when(e.at)}</span>
                    <span class="type">{e.type}</span>
                    {e.recipient && <span class="muted"> {e.recipient}</span>}
                    <EventDetail detail={e.detail} />
                  </li>
                ))}
              </ol>
            </section>
          </>
        )}
      </Show>
    </>
  );
}

/** An event's detail as readable key: value lines (text only). */
function EventDetail({ detail }: { detail: unknown }) {
  if (detail === null || detail === undefined) return null;
  if (typeof detail !== 'object') return <div class="detail">{String(detail)}</div>;
  return (
    <dl class="detail">
      {Object.entries(detail as Record<string, unknown>).map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{typeof v === 'string' ? v : JSON.stringify(v)}</dd>
        </div>
      ))}
    </dl>
  );
}
