// Banners (on inbound mail), disclaimers and signatures (on outbound mail): the
// templates, the rules that say which mail gets which, the senders exempt from them,
// and a preview of a message as it would leave.
import { useState } from 'preact/hooks';
import { del, get, patch, post, put } from '../api.ts';
import { Badge, Empty, ErrorNotice, Field, PageHeader, ReadOnlyNotice, Show, useAction, useLoad, type Loaded } from '../components.tsx';
import { BODY_KINDS, type BodyKind, type BodyPreview, type BodyRule, type BodyTemplate } from '../filter-types.ts';
import { href } from '../router.ts';
import { userCan, type User } from '../session.ts';

const ABOUT: Record<BodyKind, string> = {
  banner: 'A banner goes on top of inbound mail, e.g. "This message comes from outside the company."',
  disclaimer: 'A disclaimer goes at the bottom of outbound mail, e.g. a confidentiality notice.',
  signature: "A signature goes at the bottom of outbound mail, with the sender's name and details ({{name}}, {{title}}, ...).",
};
const SCOPES: Record<BodyKind, string[]> = {
  banner: ['all', 'relay-domain'],
  disclaimer: ['all', 'domain', 'address', 'group'],
  signature: ['all', 'domain', 'address', 'group'],
};

export function BodyChangesPage({ user, kind }: { user: User; kind?: string }) {
  const k: BodyKind = (BODY_KINDS as readonly string[]).includes(kind ?? '') ? (kind as BodyKind) : 'disclaimer';
  const writable = userCan(user, 'body.write');
  const templates = useLoad(() => get<{ items: BodyTemplate[] }>(`/api/v1/body-changes/${k}/templates`), [k]);
  const rules = useLoad(() => get<{ items: BodyRule[] }>(`/api/v1/body-changes/${k}/rules`), [k]);
  return (
    <>
      <PageHeader title="Banners and disclaimers" intro="Text the gateway adds to messages as they pass: banners on inbound mail, disclaimers and signatures on outbound mail. Use the preview to see a message as it would leave." />
      <nav class="tabs" aria-label="Kind">
        {BODY_KINDS.map((x) => (
          <a key={x} href={href('body', x)} class={x === k ? 'active' : ''} aria-current={x === k ? 'page' : undefined}>
            {x === 'banner' ? 'Banners' : x === 'disclaimer' ? 'Disclaimers' : 'Signatures'}
          </a>
        ))}
      </nav>
      <p class="muted">{ABOUT[k]}</p>
      {!writable && <ReadOnlyNotice what="banners, disclaimers and signatures" />}
      <Templates kind={k} templates={templates} writable={writable} onChanged={templates.reload} />
      <Rules kind={k} rules={rules} templates={templates.data?.items ?? []} writable={writable} onChanged={rules.reload} />
      <Preview kind={k} />
    </>
  );
}

function Templates({ kind, templates, writable, onChanged }: { kind: BodyKind; templates: Loaded<{ items: BodyTemplate[] }>; writable: boolean; onChanged: () => void }) {
  const [edit, setEdit] = useState<{ name: string; text: string; html: string; stored: boolean } | null>(null);
  const action = useAction();
  const save = async (e: Event) => {
    e.preventDefault();
    if (!edit) return;
    const ok = await action.run(() => put(`/api/v1/body-changes/${kind}/templates/${encodeURIComponent(edit.name)}`, { text: edit.text || null, html: edit.html || null }));
    if (ok) {
      setEdit(null);
      onChanged();
    }
  };
  return (
    <section class="card">
      <div class="page-header">
        <h2>Templates</h2>
        {writable && !edit && (
          <button class="secondary small" onClick={() => setEdit({ name: '', text: '', html: '', stored: false })}>
            New template
          </button>
        )}
      </div>
      {action.error !== null && <ErrorNotice error={action.error} />}
      {edit && (
        <form aria-label="Template editor" onSubmit={(e) => void save(e)}>
          <div class="grid-form">
            <Field label="Template name">
              <input name="name" required disabled={edit.stored} value={edit.name} onInput={(e) => setEdit({ ...edit, name: e.currentTarget.value })} placeholder="legal" />
            </Field>
          </div>
          <Field label="Text version" hint="for plain-text messages">
            <textarea name="text" rows={4} value={edit.text} onInput={(e) => setEdit({ ...edit, text: e.currentTarget.value })} />
          </Field>
          <Field label="HTML version" hint="for HTML messages; empty: the text version is used">
            <textarea name="html" rows={4} value={edit.html} onInput={(e) => setEdit({ ...edit, html: e.currentTarget.value })} />
          </Field>
          <div class="form-actions">
            <button type="submit" disabled={action.busy}>
              Save template
            </button>
            <button type="button" class="secondary" onClick={() => setEdit(null)}>
              Cancel
            </button>
          </div>
        </form>
      )}
      <Show value={templates}>
        {(t) =>
          t.items.length === 0 ? (
            !edit && <Empty title={`No ${kind} templates`}>{writable ? `Write one with "New template", then add a rule below that says which mail gets it.` : 'An administrator can add one.'}</Empty>
          ) : (
            <table data-testid="body-templates">
              <thead>
                <tr>
                  <th>Template</th>
                  <th>Text</th>
                  {writable && <th />}
                </tr>
              </thead>
              <tbody>
                {t.items.map((x) => (
                  <tr key={x.name}>
                    <td>
                      <strong>{x.name}</strong>
                      {x.html && <div class="muted">text and HTML</div>}
                      {x.missingImages.length > 0 && <div class="notice warn inline">missing images: {x.missingImages.join(', ')}</div>}
                    </td>
                    <td class="clip">{x.text ?? x.html ?? ''}</td>
                    {writable && (
                      <td class="row-actions">
                        <button class="small secondary" onClick={() => setEdit({ name: x.name, text: x.text ?? '', html: x.html ?? '', stored: true })}>
                          Edit
                        </button>
                        <button class="small danger" onClick={() => void action.run(() => del(`/api/v1/body-changes/${kind}/templates/${encodeURIComponent(x.name)}`)).then((ok) => ok && onChanged())}>
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
    </section>
  );
}

function Rules({ kind, rules, templates, writable, onChanged }: { kind: BodyKind; rules: Loaded<{ items: BodyRule[] }>; templates: BodyTemplate[]; writable: boolean; onChanged: () => void }) {
  const [f, setF] = useState({ template: '', scope: 'all', value: '', internal: false });
  const action = useAction();
  const add = async (e: Event) => {
    e.preventDefault();
    const ok = await action.run(() =>
      post(`/api/v1/body-changes/${kind}/rules`, { template: f.template || templates[0]?.name, scope: f.scope, ...(f.scope !== 'all' ? { value: f.value } : {}), ...(f.internal ? { internal: true } : {}) }),
    );
    if (ok) {
      setF({ ...f, value: '' });
      onChanged();
    }
  };
  return (
    <section class="card">
      <h2>Which mail gets it</h2>
      {action.error !== null && <ErrorNotice error={action.error} />}
      {writable && templates.length > 0 && (
        <form class="inline-form" aria-label="Add a rule" onSubmit={(e) => void add(e)}>
          <div class="row">
            <Field label="Template">
              <select name="template" value={f.template || templates[0]?.name} onChange={(e) => setF({ ...f, template: e.currentTarget.value })}>
                {templates.map((t) => (
                  <option key={t.name}>{t.name}</option>
                ))}
              </select>
            </Field>
            <Field label="Applies to">
              <select name="scope" value={f.scope} onChange={(e) => setF({ ...f, scope: e.currentTarget.value })}>
                {SCOPES[kind].map((s) => (
                  <option key={s}>{s}</option>
                ))}
              </select>
            </Field>
            {f.scope !== 'all' && (
              <Field label={f.scope === 'group' ? 'Group' : f.scope === 'address' ? 'Sender address' : 'Domain'}>
                <input name="value" required value={f.value} onInput={(e) => setF({ ...f, value: e.currentTarget.value })} />
              </Field>
            )}
            {kind !== 'banner' && (
              <label class="check">
                <input type="checkbox" checked={f.internal} onChange={(e) => setF({ ...f, internal: e.currentTarget.checked })} /> also on internal mail
              </label>
            )}
            <button type="submit" disabled={action.busy}>
              Add rule
            </button>
          </div>
        </form>
      )}
      <Show value={rules}>
        {(r) =>
          r.items.length === 0 ? (
            <p class="muted">No rules: no message gets a {kind}. {writable && (templates.length ? 'Add a rule above.' : 'Write a template first.')}</p>
          ) : (
            <table data-testid="body-rules">
              <thead>
                <tr>
                  <th>Template</th>
                  <th>Applies to</th>
                  <th>State</th>
                  {writable && <th />}
                </tr>
              </thead>
              <tbody>
                {r.items.map((x) => (
                  <tr key={x.id}>
                    <td>{x.template}</td>
                    <td>
                      {x.scope === 'all' ? 'all mail' : `${x.scope} ${x.value}`}
                      {x.internal && <span class="muted"> (also internal)</span>}
                    </td>
                    <td>{x.enabled ? <Badge kind="ok">on</Badge> : <Badge>off</Badge>}</td>
                    {writable && (
                      <td class="row-actions">
                        <button class="small secondary" onClick={() => void action.run(() => patch(`/api/v1/body-changes/${kind}/rules/${x.id}`, { enabled: !x.enabled })).then((ok) => ok && onChanged())}>
                          {x.enabled ? 'Turn off' : 'Turn on'}
                        </button>
                        <button class="small danger" onClick={() => void action.run(() => del(`/api/v1/body-changes/${kind}/rules/${x.id}`)).then((ok) => ok && onChanged())}>
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
    </section>
  );
}

const SAMPLE = ['From: Ann <ann@example.org>', 'To: bob@partner.example', 'Subject: Quarterly figures', '', 'Hello Bob, the figures are attached.', '', 'Ann', ''].join('\n');

function Preview({ kind }: { kind: BodyKind }) {
  const [f, setF] = useState({ message: SAMPLE, from: 'ann@example.org', to: 'bob@partner.example', direction: kind === 'banner' ? 'inbound' : 'outbound' });
  const [result, setResult] = useState<BodyPreview | null>(null);
  const action = useAction();
  const run = async (e: Event) => {
    e.preventDefault();
    setResult(null);
    await action.run(async () =>
      setResult(await post<BodyPreview>('/api/v1/body-changes/preview', { message: f.message, from: f.from, to: f.to.split(/[\s,]+/).filter(Boolean), direction: f.direction })),
    );
  };
  return (
    <form class="card" aria-label="Preview" onSubmit={(e) => void run(e)}>
      <h2>Preview</h2>
      <div class="grid-form">
        <Field label="Sender">
          <input name="from" value={f.from} onInput={(e) => setF({ ...f, from: e.currentTarget.value })} />
        </Field>
        <Field label="Recipients">
          <input name="to" value={f.to} onInput={(e) => setF({ ...f, to: e.currentTarget.value })} />
        </Field>
        <Field label="Direction">
          <select name="direction" value={f.direction} onChange={(e) => setF({ ...f, direction: e.currentTarget.value })}>
            <option value="inbound">inbound (from outside)</option>
            <option value="outbound">outbound (from your network)</option>
          </select>
        </Field>
      </div>
      <Field label="Message">
        <textarea name="message" rows={7} value={f.message} onInput={(e) => setF({ ...f, message: e.currentTarget.value })} />
      </Field>
      <div class="form-actions">
        <button type="submit" class="secondary" disabled={action.busy}>
          Show preview
        </button>
      </div>
      {action.error !== null && <ErrorNotice error={action.error} />}
      {result && (
        <div class="result" data-testid="body-preview">
          <strong>{result.changed ? `The message would leave changed (${Object.keys(result.changes ?? {}).join(', ')}):` : `Nothing applies to this ${result.direction} message: it would leave unchanged.`}</strong>
          <pre class="message-text">{result.message}</pre>
        </div>
      )}
    </form>
  );
}
