// The spam checks' own state: the DNS blocklists in use (with a lookup to ask them now)
// and the Bayes classifier's training (with a box to teach it one message).
import { useState } from 'preact/hooks';
import { get, patch, post, query } from '../api.ts';
import { Badge, ErrorNotice, Field, PageHeader, ReadOnlyNotice, Show, useAction, useLoad } from '../components.tsx';
import type { BayesStats, DnsblCheck, DnsblConfig } from '../filter-types.ts';
import { userCan, type User } from '../session.ts';

export function SpamChecksPage({ user }: { user: User }) {
  return (
    <>
      <PageHeader title="Blocklists and Bayes" intro="Two of the spam checks that need you: DNS blocklists (which to ask, and which refuse a client outright) and the Bayes classifier, which learns from the mail you release or mark as spam." />
      {userCan(user, 'dnsbl.read') && <Dnsbl user={user} />}
      {userCan(user, 'bayes.read') && <Bayes user={user} />}
    </>
  );
}

function Dnsbl({ user }: { user: User }) {
  const cfg = useLoad(() => get<DnsblConfig>('/api/v1/dnsbl'), []);
  const writable = userCan(user, 'dnsbl.write');
  const action = useAction();
  const [reject, setReject] = useState<string | null>(null);
  const change = (body: Partial<DnsblConfig>) => void action.run(() => patch('/api/v1/dnsbl', body)).then((ok) => ok && cfg.reload());
  return (
    <section class="card" aria-label="DNS blocklists">
      <h2>DNS blocklists</h2>
      {!writable && <ReadOnlyNotice what="the blocklist settings" />}
      {action.error !== null && <ErrorNotice error={action.error} />}
      <Show value={cfg}>
        {(c) => (
          <>
            <p data-testid="dnsbl-state">
              {c.enabled ? <Badge kind="ok">on</Badge> : <Badge>off</Badge>} {c.ipZones.length} client-address and {c.uriZones.length} linked-domain checks; lookups of one message take at most {c.budgetMs} ms.
              {writable && (
                <>
                  {' '}
                  <button class="small secondary" onClick={() => change({ enabled: !c.enabled })}>
                    {c.enabled ? 'Turn off' : 'Turn on'}
                  </button>
                </>
              )}
            </p>
            {c.ipZones.length + c.uriZones.length === 0 && <div class="notice warn">No blocklist is configured: add zones with PATCH /api/v1/dnsbl or `hermes dnsbl` so listed senders score as spam.</div>}
            <table data-testid="dnsbl-zones">
              <thead>
                <tr>
                  <th>Zone</th>
                  <th>Looks up</th>
                  <th class="num">Weight</th>
                  <th>In the session</th>
                </tr>
              </thead>
              <tbody>
                {[...c.ipZones.map((z) => ({ ...z, kind: 'client address' })), ...c.uriZones.map((z) => ({ ...z, kind: 'linked domains' }))].map((z) => (
                  <tr key={z.kind + z.zone + (z.symbol ?? '')}>
                    <td>
                      <code>{z.zone}</code> {z.symbol && <span class="muted">{z.symbol}</span>}
                    </td>
                    <td>{z.kind}</td>
                    <td class="num">{z.weight ?? '—'}</td>
                    <td>{c.rejectZones.includes(z.zone) ? <Badge kind="rejected">refuses the client</Badge> : <span class="muted">scores only</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {writable && (
              <form
                class="inline-form"
                aria-label="Zones that refuse"
                onSubmit={(e) => {
                  e.preventDefault();
                  change({ rejectZones: (reject ?? c.rejectZones.join(', ')).split(/[\s,]+/).filter(Boolean) });
                }}
              >
                <div class="row">
                  <Field label="Refuse clients listed in" hint="client-address zones, comma-separated; others only add to the score">
                    <input name="rejectZones" value={reject ?? c.rejectZones.join(', ')} onInput={(e) => setReject(e.currentTarget.value)} />
                  </Field>
                  <button type="submit" class="secondary" disabled={action.busy}>
                    Save
                  </button>
                </div>
              </form>
            )}
          </>
        )}
      </Show>
      <DnsblLookup />
    </section>
  );
}

function DnsblLookup() {
  const [target, setTarget] = useState('');
  const [result, setResult] = useState<DnsblCheck | null>(null);
  const action = useAction();
  return (
    <form
      class="inline-form"
      aria-label="Look up"
      onSubmit={(e) => {
        e.preventDefault();
        setResult(null);
        void action.run(async () => setResult(await get<DnsblCheck>('/api/v1/dnsbl/check' + query({ target }))));
      }}
    >
      <h3>Is it listed?</h3>
      <div class="row">
        <Field label="IP address or domain">
          <input name="target" required value={target} onInput={(e) => setTarget(e.currentTarget.value)} placeholder="192.0.2.10" />
        </Field>
        <button type="submit" class="secondary" disabled={action.busy}>
          Look up
        </button>
      </div>
      {action.error !== null && <ErrorNotice error={action.error} />}
      {result && (
        <div class={`result ${result.listed ? 'match' : 'nomatch'}`} data-testid="dnsbl-result">
          <strong>{result.listed ? `${result.query} is listed.` : `${result.query} is not listed in the ${result.queries} list(s) asked.`}</strong>
          <ul class="plain">
            {result.hits.map((h) => (
              <li key={h.zone}>
                {h.zone}: {h.answer} ({h.symbol}, weight {h.weight})
              </li>
            ))}
            {result.problems.map((p) => (
              <li key={p.zone} class="muted">
                {p.zone}: {p.kind} {p.detail ?? ''}
              </li>
            ))}
          </ul>
        </div>
      )}
    </form>
  );
}

function Bayes({ user }: { user: User }) {
  const stats = useLoad(() => get<BayesStats>('/api/v1/bayes'), []);
  const writable = userCan(user, 'bayes.write');
  const [message, setMessage] = useState('');
  const [as, setAs] = useState('spam');
  const [outcome, setOutcome] = useState<string | null>(null);
  const action = useAction();
  const learn = async (e: Event) => {
    e.preventDefault();
    setOutcome(null);
    const ok = await action.run(async () => {
      const r = await post<{ outcome: string }>('/api/v1/bayes/learn', { as, message: message.replace(/\r?\n/g, '\r\n') });
      setOutcome(r.outcome);
    });
    if (ok) {
      setMessage('');
      stats.reload();
    }
  };
  return (
    <section class="card" aria-label="Bayes classifier">
      <h2>Bayes classifier</h2>
      <Show value={stats}>
        {(s) => (
          <>
            <div class="stats" data-testid="bayes-stats">
              <div>
                <span class="num">{s.spamMessages}</span>
                <span class="muted">spam learned</span>
              </div>
              <div>
                <span class="num">{s.hamMessages}</span>
                <span class="muted">good mail learned</span>
              </div>
              <div>
                <span class="num">{s.tokens}</span>
                <span class="muted">tokens</span>
              </div>
            </div>
            {s.ready ? (
              <div class="notice ok">Trained: Bayes scores every message.</div>
            ) : (
              <div class="notice warn">
                Not scoring yet: it needs {s.minSpam} spam and {s.minHam} good messages ({Math.max(0, s.minSpam - s.spamMessages)} spam and {Math.max(0, s.minHam - s.hamMessages)} good to go). Release
                wrongly held mail as "not spam" and mark held spam in the quarantine, or teach it below; from the
                command line, <code>hermes bayes learn --spam PATH</code> and <code>--ham PATH</code> learn a file, a directory or
                maildir, or an mbox. Until it scores, only the rules (the SpamAssassin rules among them) judge mail, and autolearn teaches
                it what they find clearly spam or clearly ham.
              </div>
            )}
          </>
        )}
      </Show>
      {writable && (
        <form aria-label="Teach Bayes" onSubmit={(e) => void learn(e)}>
          <h3>Teach it a message</h3>
          {action.error !== null && <ErrorNotice error={action.error} />}
          {outcome && <div class="notice ok" role="status">Outcome: {outcome}.</div>}
          <Field label="Message" hint="a whole message: headers, an empty line, the body">
            <textarea name="message" rows={6} required value={message} onInput={(e) => setMessage(e.currentTarget.value)} />
          </Field>
          <div class="form-actions">
            <Field label="Learn as">
              <select name="as" value={as} onChange={(e) => setAs(e.currentTarget.value)}>
                <option value="spam">spam</option>
                <option value="ham">good mail (ham)</option>
                <option value="forget">forget it</option>
              </select>
            </Field>
            <button type="submit" disabled={action.busy}>
              Learn
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
