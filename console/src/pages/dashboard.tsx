// The first page: what the gateway did lately, what waits, and what to set up next.
import { get } from '../api.ts';
import { Empty, PageHeader, Show, bytes, useLoad } from '../components.tsx';
import { href } from '../router.ts';
import type { User } from '../session.ts';

interface DashboardStats {
  from: string;
  to: string;
  bucketMinutes: number;
  traffic: Array<{ start: string; counts: Record<string, number> }>;
  topSenders: Array<{ address: string; messages: number }>;
  topRecipients: Array<{ address: string; messages: number }>;
  queue: { messages: number; recipients: number; deferred: number };
  quarantine: { held: number; bytes: number } | null;
  nudges: Array<{ code: string; message: string }>;
}

/** Verdicts in the order they stack in the chart, with their legend names. */
const VERDICTS: Array<[string, string]> = [
  ['delivered', 'Delivered'],
  ['queued', 'Queued'],
  ['quarantined', 'Quarantined'],
  ['rejected', 'Rejected'],
  ['bounced', 'Bounced'],
];

export function DashboardPage({ user }: { user: User }) {
  const stats = useLoad(() => get<DashboardStats>('/api/v1/dashboard'), []);
  return (
    <>
      <PageHeader title="Dashboard" intro={user.domains ? `Mail of ${user.domains.join(', ')}.` : 'All mail through this gateway.'} />
      <Show value={stats}>
        {(s) => (
          <>
            {s.nudges.length > 0 && (
              <section class="card nudges">
                <h2>Finish setting up</h2>
                <ul>
                  {s.nudges.map((n) => (
                    <li key={n.code} data-nudge={n.code}>
                      {n.message}
                    </li>
                  ))}
                </ul>
              </section>
            )}
            <div class="tiles">
              <a class="tile" href={href('queue')}>
                <span class="num">{s.queue.messages}</span>
                <span>messages in the queue</span>
                <span class="muted">{s.queue.deferred} deferred</span>
              </a>
              <a class="tile" href={href('quarantine')}>
                <span class="num">{s.quarantine?.held ?? '—'}</span>
                <span>held in quarantine</span>
                <span class="muted">{s.quarantine ? bytes(s.quarantine.bytes) : 'not available'}</span>
              </a>
              <div class="tile">
                <span class="num">{total(s.traffic)}</span>
                <span>messages in this period</span>
                <span class="muted">since {new Date(s.from).toLocaleString()}</span>
              </div>
            </div>
            <section class="card">
              <h2>Messages by verdict</h2>
              {total(s.traffic) === 0 ? (
                <Empty title="No mail yet">Once your MX records point here and mail arrives, this chart shows how much was delivered, held and refused.</Empty>
              ) : (
                <TrafficChart traffic={s.traffic} />
              )}
            </section>
            <div class="two">
              <TopList title="Top senders" rows={s.topSenders} />
              <TopList title="Top recipients" rows={s.topRecipients} />
            </div>
          </>
        )}
      </Show>
    </>
  );
}

function total(traffic: DashboardStats['traffic']): number {
  return traffic.reduce((n, b) => n + Object.values(b.counts).reduce((a, c) => a + c, 0), 0);
}

/** Stacked bars drawn as SVG: one bar per time bucket, one colour per verdict. */
function TrafficChart({ traffic }: { traffic: DashboardStats['traffic'] }) {
  const width = 720;
  const height = 180;
  const max = Math.max(1, ...traffic.map((b) => Object.values(b.counts).reduce((a, c) => a + c, 0)));
  const barW = width / Math.max(1, traffic.length);
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${height + 20}`} role="img" aria-label="Messages by verdict over time">
        {traffic.map((b, i) => {
          let y = height;
          return (
            <g key={b.start}>
              {VERDICTS.map(([v]) => {
                const n = b.counts[v] ?? 0;
                if (!n) return null;
                const h = (n / max) * (height - 10);
                y -= h;
                return (
                  <rect key={v} class={`v-${v}`} x={i * barW + 1} y={y} width={Math.max(1, barW - 2)} height={h}>
                    <title>{`${new Date(b.start).toLocaleString()}: ${n} ${v}`}</title>
                  </rect>
                );
              })}
            </g>
          );
        })}
        <line x1="0" y1={height} x2={width} y2={height} class="axis" />
        <text x="0" y={height + 15} class="tick">
          {new Date(traffic[0]?.start ?? Date.now()).toLocaleString()}
        </text>
        <text x={width} y={height + 15} class="tick end">
          now
        </text>
      </svg>
      <figcaption class="legend">
        {VERDICTS.map(([v, label]) => (
          <span key={v}>
            <i class={`swatch v-${v}`} /> {label}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}

function TopList({ title, rows }: { title: string; rows: Array<{ address: string; messages: number }> }) {
  return (
    <section class="card">
      <h2>{title}</h2>
      {rows.length === 0 ? (
        <p class="muted">Nobody yet.</p>
      ) : (
        <table>
          <tbody>
            {rows.map((r) => (
              <tr key={r.address}>
                <td>
                  <a href={href('trace') + '?' + new URLSearchParams({ address: r.address }).toString()}>{r.address}</a>
                </td>
                <td class="num">{r.messages}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
