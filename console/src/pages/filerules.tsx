// Attachment rule sets: which files a policy bans (by extension, disguised names, real
// content type, archives that cannot be looked into), tried in order, first match wins.
// A set can be tested on a pasted message before a policy uses it.
import { useState } from 'preact/hooks';
import { del, get, post } from '../api.ts';
import { Badge, Empty, ErrorNotice, Field, PageHeader, ReadOnlyNotice, Show, useAction, useLoad } from '../components.tsx';
import { FILE_RULE_KINDS, type FileRule, type FileRuleSet, type FileRuleSetSummary, type TestedFile } from '../filter-types.ts';
import { go, href } from '../router.ts';
import { userCan, type User } from '../session.ts';

export function FileRulesPage({ user, name }: { user: User; name?: string }) {
  return name ? <RuleSetView user={user} name={name} /> : <RuleSets user={user} />;
}

function RuleSets({ user }: { user: User }) {
  const sets = useLoad(() => get<{ items: FileRuleSetSummary[] }>('/api/v1/filerules'), []);
  const writable = userCan(user, 'filerules.write');
  const [f, setF] = useState({ name: '', copyFrom: 'default' });
  const action = useAction();
  const create = async (e: Event) => {
    e.preventDefault();
    const ok = await action.run(() => post('/api/v1/filerules', { name: f.name, ...(f.copyFrom ? { copyFrom: f.copyFrom } : {}) }));
    if (ok) go('filerules', f.name);
  };
  return (
    <>
      <PageHeader title="File rules" intro="Rule sets decide which attachments are banned. A filter policy names the set it uses; policies that name none use 'default'." />
      {!writable && <ReadOnlyNotice what="the file rules" />}
      {writable && (
        <form class="card inline-form" aria-label="New rule set" onSubmit={(e) => void create(e)}>
          <h2>New rule set</h2>
          {action.error !== null && <ErrorNotice error={action.error} />}
          <div class="row">
            <Field label="Name">
              <input name="name" required value={f.name} onInput={(e) => setF({ ...f, name: e.currentTarget.value })} placeholder="strict" />
            </Field>
            <Field label="Start from" hint="a copy of another set, or empty">
              <select name="copyFrom" value={f.copyFrom} onChange={(e) => setF({ ...f, copyFrom: e.currentTarget.value })}>
                <option value="">an empty set</option>
                {sets.data?.items.map((s) => (
                  <option key={s.name} value={s.name}>
                    a copy of {s.name}
                  </option>
                ))}
              </select>
            </Field>
            <button type="submit" disabled={action.busy}>
              Create
            </button>
          </div>
        </form>
      )}
      <Show value={sets}>
        {(s) =>
          s.items.length === 0 ? (
            <Empty title="No rule sets">The gateway ships a "default" set; restart it to have it made again, or create one above.</Empty>
          ) : (
            <table class="list" data-testid="filerule-sets">
              <thead>
                <tr>
                  <th>Set</th>
                  <th class="num">Rules</th>
                </tr>
              </thead>
              <tbody>
                {s.items.map((x) => (
                  <tr key={x.name} class="clickable" onClick={() => go('filerules', x.name)}>
                    <td>
                      <a href={href('filerules', x.name)}>{x.name}</a>
                      {x.description && <div class="muted">{x.description}</div>}
                    </td>
                    <td class="num">{x.rules}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Show>
    </>
  );
}

function RuleSetView({ user, name }: { user: User; name: string }) {
  const path = `/api/v1/filerules/${encodeURIComponent(name)}`;
  const set = useLoad(() => get<FileRuleSet>(path), [name]);
  const writable = userCan(user, 'filerules.write');
  const action = useAction();
  const act = (fn: () => Promise<unknown>) => void action.run(fn).then((ok) => ok && set.reload());
  return (
    <>
      <p>
        <a href={href('filerules')}>← File rules</a>
      </p>
      <PageHeader title={`Rule set ${name}`} intro="Rules are tried from the top; the first that matches a file decides (ban or allow).">
        {writable && name === 'default' && (
          <button class="secondary" onClick={() => confirm('Put the shipped rules back into "default"? Your changes to it are lost.') && act(() => post(`${path}/reset`))}>
            Reset to the shipped rules
          </button>
        )}
        {writable && name !== 'default' && (
          <button
            class="danger"
            onClick={() => {
              if (confirm(`Delete the rule set ${name}? Policies naming it fall back to "default".`)) void action.run(() => del(path)).then((ok) => ok && go('filerules'));
            }}
          >
            Delete set
          </button>
        )}
      </PageHeader>
      {action.error !== null && <ErrorNotice error={action.error} />}
      <Show value={set}>
        {(s) => (
          <>
            {s.rules.length === 0 ? (
              <Empty title="No rules in this set">A policy using it bans no attachment. Add a rule below, e.g. extension with the values exe, scr, js.</Empty>
            ) : (
              <table class="list" data-testid="filerules">
                <thead>
                  <tr>
                    <th>Rule</th>
                    <th>Kind</th>
                    <th>Values</th>
                    <th>Action</th>
                    <th>In archives</th>
                    {writable && <th />}
                  </tr>
                </thead>
                <tbody>
                  {s.rules.map((r) => (
                    <tr key={r.name}>
                      <td>
                        <strong>{r.name}</strong>
                        {r.description && <div class="muted">{r.description}</div>}
                      </td>
                      <td>{r.kind}</td>
                      <td class="clip">{r.values.join(', ') || <span class="muted">—</span>}</td>
                      <td>
                        <Badge kind={r.action === 'ban' ? 'banned' : 'ok'}>{r.action}</Badge>
                      </td>
                      <td>{r.inArchives ? 'yes' : 'no'}</td>
                      {writable && (
                        <td class="row-actions">
                          <button class="small danger" onClick={() => act(() => del(`${path}/rules/${encodeURIComponent(r.name)}`))}>
                            Remove
                          </button>
                        </td>
                      )}
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            {writable && <AddFileRule setPath={path} onAdded={set.reload} />}
            <TestSet setPath={path} />
          </>
        )}
      </Show>
    </>
  );
}

function AddFileRule({ setPath, onAdded }: { setPath: string; onAdded: () => void }) {
  const [r, setR] = useState<{ name: string; kind: FileRule['kind']; values: string; action: 'ban' | 'allow'; inArchives: boolean; description: string }>({
    name: '',
    kind: 'extension',
    values: '',
    action: 'ban',
    inArchives: true,
    description: '',
  });
  const action = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    const rule: FileRule = { ...r, values: r.values.split(/[\s,]+/).filter(Boolean) };
    if (await action.run(() => post(`${setPath}/rules`, { rule }))) {
      setR({ ...r, name: '', values: '', description: '' });
      onAdded();
    }
  };
  return (
    <form class="card" aria-label="Add a file rule" onSubmit={(e) => void submit(e)}>
      <h2>Add a rule</h2>
      {action.error !== null && <ErrorNotice error={action.error} />}
      <div class="grid-form">
        <Field label="Rule name">
          <input name="name" required value={r.name} onInput={(e) => setR({ ...r, name: e.currentTarget.value })} placeholder="no-iso" />
        </Field>
        <Field label="Kind">
          <select name="kind" value={r.kind} onChange={(e) => setR({ ...r, kind: e.currentTarget.value as FileRule['kind'] })}>
            {FILE_RULE_KINDS.map((k) => (
              <option key={k}>{k}</option>
            ))}
          </select>
        </Field>
        <Field label="Values" hint="comma-separated: iso, img">
          <input name="values" value={r.values} onInput={(e) => setR({ ...r, values: e.currentTarget.value })} />
        </Field>
        <Field label="Action">
          <select name="action" value={r.action} onChange={(e) => setR({ ...r, action: e.currentTarget.value as 'ban' | 'allow' })}>
            <option value="ban">ban</option>
            <option value="allow">allow</option>
          </select>
        </Field>
        <Field label="Description">
          <input name="description" value={r.description} onInput={(e) => setR({ ...r, description: e.currentTarget.value })} />
        </Field>
        <label class="check">
          <input type="checkbox" checked={r.inArchives} onChange={(e) => setR({ ...r, inArchives: e.currentTarget.checked })} /> Also inside archives
        </label>
      </div>
      <button type="submit" disabled={action.busy}>
        Add rule
      </button>
    </form>
  );
}

const SAMPLE = [
  'From: ann@partner.example',
  'To: bob@example.org',
  'Subject: The files',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="b1"',
  '',
  '--b1',
  'Content-Type: text/plain',
  '',
  'Here they are.',
  '--b1',
  'Content-Type: application/octet-stream; name="setup.iso"',
  'Content-Disposition: attachment; filename="setup.iso"',
  'Content-Transfer-Encoding: base64',
  '',
  'aGVsbG8gd29ybGQ=',
  '--b1--',
  '',
].join('\n');

function TestSet({ setPath }: { setPath: string }) {
  const [message, setMessage] = useState(SAMPLE);
  const [files, setFiles] = useState<TestedFile[] | null>(null);
  const action = useAction();
  const run = async () => {
    setFiles(null);
    await action.run(async () => setFiles((await post<{ items: TestedFile[] }>(`${setPath}/test`, { message: message.replace(/\r?\n/g, '\r\n') })).items));
  };
  return (
    <section class="card" aria-label="Test this set on a message">
      <h2>Test this set on a message</h2>
      <Field label="Message" hint="a whole message with its attachments (from your mail client's 'show original')">
        <textarea name="message" rows={8} value={message} onInput={(e) => setMessage(e.currentTarget.value)} />
      </Field>
      <div class="form-actions">
        <button type="button" class="secondary" disabled={action.busy} onClick={() => void run()}>
          Test
        </button>
      </div>
      {action.error !== null && <ErrorNotice error={action.error} />}
      {files && (
        <div class="result" data-testid="filerule-test-result">
          {files.length === 0 ? (
            <strong>The message has no attachments to check.</strong>
          ) : (
            <ul class="plain">
              {files.map((f, i) => (
                <li key={i}>
                  <code>{f.path}</code> {f.detected && <span class="muted">({f.detected})</span>} —{' '}
                  {f.banned ? (
                    <Badge kind="banned">banned</Badge>
                  ) : (
                    <Badge kind="ok">allowed</Badge>
                  )}{' '}
                  {f.rule && <span class="muted">by {f.rule}</span>} {f.reason && <span class="muted">: {f.reason}</span>}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </section>
  );
}
