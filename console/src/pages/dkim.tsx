// DKIM keys per sending domain, with the DNS record each needs, rotation (the new key
// signs, the old stays published for the overlap), removal; and ARC sealing of relayed
// mail with one of the RSA keys.
import { useState } from 'preact/hooks';
import { del, get, post, put } from '../api.ts';
import { Badge, CopyText, Empty, ErrorNotice, Field, PageHeader, ReadOnlyNotice, Show, useAction, useLoad, when } from '../components.tsx';
import type { ArcConfig, DkimKey } from '../filter-types.ts';
import { userCan, type User } from '../session.ts';

const STATUS_KIND: Record<DkimKey['status'], string> = { active: 'ok', pending: 'queued', retiring: 'deferred', expired: 'deleted' };

export function DkimPage({ user }: { user: User }) {
  const keys = useLoad(() => get<{ items: DkimKey[] }>('/api/v1/dkim'), []);
  const writable = userCan(user, 'dkim.write');
  const action = useAction();
  const [notice, setNotice] = useState<string | null>(null);
  const act = (done: string, fn: () => Promise<unknown>) =>
    void action.run(fn).then((ok) => {
      if (ok) {
        setNotice(done);
        keys.reload();
      }
    });
  const byDomain = new Map<string, DkimKey[]>();
  for (const k of keys.data?.items ?? []) byDomain.set(k.domain, [...(byDomain.get(k.domain) ?? []), k]);
  return (
    <>
      <PageHeader title="DKIM and ARC" intro="Outbound mail is signed with the active key of its sender's domain. Publish each key's DNS record before it signs: receivers look the public key up there." />
      {!writable && <ReadOnlyNotice what="the keys" />}
      {writable && <NewKey user={user} onMade={(k) => {
        setNotice(`Key ${k.selector} made for ${k.domain}. Publish its DNS record now: mail is signed with it at once${k.status === 'pending' ? ' after you rotate to it' : ''}.`);
        keys.reload();
      }} />}
      {notice && <div class="notice ok" role="status">{notice}</div>}
      {action.error !== null && <ErrorNotice error={action.error} />}
      <Show value={keys}>
        {(k) =>
          k.items.length === 0 ? (
            <Empty title="No DKIM keys">
              Mail that leaves unsigned is more likely to be refused or filed as spam. {writable ? 'Make a key for each domain you send from (above), then publish the DNS record it shows.' : 'An administrator can make one.'}
            </Empty>
          ) : (
            [...byDomain].map(([domain, list]) => (
              <section class="card" key={domain} data-testid={`dkim-${domain}`}>
                <div class="page-header">
                  <h2>{domain}</h2>
                  {writable && (
                    <div class="actions">
                      <button class="secondary small" disabled={action.busy} onClick={() => act(`Rotated ${domain}: the new key signs now; the old one stays published for the overlap.`, () => post(`/api/v1/dkim/${encodeURIComponent(domain)}/rotate`, {}))}>
                        Rotate now
                      </button>
                      {list.some((x) => x.status === 'retiring' && x.removeAfter && Date.parse(x.removeAfter) <= Date.now()) && (
                        <button class="secondary small" onClick={() => act('Removed the keys whose overlap is over: take their DNS records down.', () => del(`/api/v1/dkim/${encodeURIComponent(domain)}/expired`))}>
                          Remove expired keys
                        </button>
                      )}
                    </div>
                  )}
                </div>
                <table>
                  <thead>
                    <tr>
                      <th>Selector</th>
                      <th>Key</th>
                      <th>State</th>
                      <th>DNS record to publish</th>
                      {writable && <th />}
                    </tr>
                  </thead>
                  <tbody>
                    {list.map((x) => (
                      <tr key={x.id}>
                        <td>
                          <strong>{x.selector}</strong>
                          {x.arc && <div class="muted">ARC: {x.arc}</div>}
                        </td>
                        <td>
                          {x.algorithm} {x.algorithm.startsWith('rsa') && <span class="muted">{x.bits} bits</span>}
                          <div class="muted">made {when(x.createdAt)}</div>
                        </td>
                        <td>
                          <Badge kind={STATUS_KIND[x.status]}>{x.status}</Badge>
                          {x.removeAfter && <div class="muted">remove after {when(x.removeAfter)}</div>}
                        </td>
                        <td>
                          <div class="muted">TXT {x.dnsName}</div>
                          <CopyText label={`DNS record of ${x.selector}`} text={x.zoneLine} />
                        </td>
                        {writable && (
                          <td class="row-actions">
                            <button
                              class="small danger"
                              onClick={() => {
                                // Removing a key that signs (or seals ARC) stops that at once: the API wants force for it.
                                const force = (x.status !== 'retiring' && x.status !== 'expired') || x.arc !== null;
                                if (confirm(force ? `Remove ${x.selector}, a key that is ${x.arc !== null ? 'used for ARC' : x.status}? Mail of ${domain} is no longer signed with it.` : `Remove ${x.selector}?`))
                                  act(`Removed ${x.selector}. Take its DNS record down.`, () => del(`/api/v1/dkim/${encodeURIComponent(domain)}/${encodeURIComponent(x.selector)}${force ? '?force=true' : ''}`));
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
              </section>
            ))
          )
        }
      </Show>
      <ArcSection user={user} keys={keys.data?.items ?? []} />
    </>
  );
}

function NewKey({ user, onMade }: { user: User; onMade: (k: DkimKey) => void }) {
  const [f, setF] = useState({ domain: user.domains?.[0] ?? '', selector: '', algorithm: 'rsa', bits: '2048', pending: false });
  const action = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    let made: DkimKey | null = null;
    const ok = await action.run(async () => {
      made = await post<DkimKey>('/api/v1/dkim', {
        domain: f.domain,
        ...(f.selector ? { selector: f.selector } : {}),
        algorithm: f.algorithm,
        ...(f.algorithm === 'rsa' ? { bits: Number(f.bits) } : {}),
        ...(f.pending ? { pending: true } : {}),
      });
    });
    if (ok && made) {
      setF({ ...f, selector: '' });
      onMade(made);
    }
  };
  return (
    <form class="card inline-form" aria-label="Make a DKIM key" onSubmit={(e) => void submit(e)}>
      <h2>Make a key</h2>
      {action.error !== null && <ErrorNotice error={action.error} />}
      <div class="row">
        <Field label="Domain">
          <input name="domain" required value={f.domain} onInput={(e) => setF({ ...f, domain: e.currentTarget.value })} placeholder="example.org" />
        </Field>
        <Field label="Selector" hint="empty: one is chosen (rsa20261202)">
          <input name="selector" value={f.selector} onInput={(e) => setF({ ...f, selector: e.currentTarget.value })} />
        </Field>
        <Field label="Algorithm">
          <select name="algorithm" value={f.algorithm} onChange={(e) => setF({ ...f, algorithm: e.currentTarget.value })}>
            <option value="rsa">RSA (every receiver)</option>
            <option value="ed25519">Ed25519 (in addition to RSA)</option>
          </select>
        </Field>
        {f.algorithm === 'rsa' && (
          <Field label="Bits">
            <select name="bits" value={f.bits} onChange={(e) => setF({ ...f, bits: e.currentTarget.value })}>
              <option>2048</option>
              <option>3072</option>
              <option>4096</option>
              <option>1024</option>
            </select>
          </Field>
        )}
        <label class="check">
          <input type="checkbox" checked={f.pending} onChange={(e) => setF({ ...f, pending: e.currentTarget.checked })} /> Pending: publish first, sign after the next rotation
        </label>
        <button type="submit" disabled={action.busy}>
          Make key
        </button>
      </div>
    </form>
  );
}

function ArcSection({ user, keys }: { user: User; keys: DkimKey[] }) {
  const arc = useLoad(() => get<ArcConfig>('/api/v1/arc'), []);
  const writable = userCan(user, 'arc.write');
  const rsa = keys.filter((k) => k.algorithm.startsWith('rsa') && (k.status === 'active' || k.status === 'retiring'));
  const [choice, setChoice] = useState('');
  const action = useAction();
  const set = (body: unknown) => void action.run(() => put('/api/v1/arc', body)).then((ok) => ok && arc.reload());
  if (!userCan(user, 'arc.read')) return null;
  return (
    <section class="card" aria-label="ARC sealing">
      <h2>ARC sealing</h2>
      <p class="muted">ARC records the authentication results this gateway saw, so the next hop (your mail server, a list) can trust them even after the message was changed (banners, subject tags).</p>
      {action.error !== null && <ErrorNotice error={action.error} />}
      <Show value={arc}>
        {(a) => (
          <>
            <p data-testid="arc-state">
              {a.enabled ? (
                <>
                  <Badge kind="ok">on</Badge> Relayed mail is sealed as d={a.domain} s={a.selector}.
                </>
              ) : (
                <>
                  <Badge>off</Badge> Relayed mail is not sealed.
                </>
              )}
            </p>
            {a.warning && <div class="notice warn">{a.warning}</div>}
            {writable &&
              (a.enabled ? (
                <button class="secondary" onClick={() => set({ enabled: false })}>
                  Stop sealing
                </button>
              ) : rsa.length === 0 ? (
                <p class="muted">ARC seals with an RSA key: make one above first.</p>
              ) : (
                <div class="inline-form">
                  <div class="row">
                    <Field label="Seal with">
                      <select name="arcKey" value={choice || `${rsa[0]!.domain} ${rsa[0]!.selector}`} onChange={(e) => setChoice(e.currentTarget.value)}>
                        {rsa.map((k) => (
                          <option key={k.id} value={`${k.domain} ${k.selector}`}>
                            {k.selector} ({k.domain})
                          </option>
                        ))}
                      </select>
                    </Field>
                    <button
                      onClick={() => {
                        const [domain, selector] = (choice || `${rsa[0]!.domain} ${rsa[0]!.selector}`).split(' ');
                        set({ enabled: true, domain, selector });
                      }}
                    >
                      Start sealing
                    </button>
                  </div>
                </div>
              ))}
          </>
        )}
      </Show>
    </section>
  );
}
