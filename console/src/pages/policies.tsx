// Filter policies: the spam levels (tag, quarantine, reject) and what happens to spam,
// malware, banned attachments and bad headers; which recipients and domains get which
// policy; and "which policy applies to this address, and why".
import { useState } from 'preact/hooks';
import { del, get, patch, post, put, query } from '../api.ts';
import { Badge, Empty, ErrorNotice, Field, PageHeader, ReadOnlyNotice, Show, useAction, useLoad } from '../components.tsx';
import { POLICY_ACTIONS, type FilterPolicy, type PolicyAssignment } from '../filter-types.ts';
import { ShowPaged, usePagedList } from '../paged-list.tsx';
import { userCan, type User } from '../session.ts';

type Editable = Omit<FilterPolicy, 'name' | 'createdAt' | 'updatedAt'>;

const ACTION_FIELDS = [
  ['spamAction', 'Spam (at the quarantine level)'],
  ['malwareAction', 'Malware'],
  ['bannedAction', 'Banned attachment'],
  ['badheaderAction', 'Bad header'],
] as const;

export function PoliciesPage({ user }: { user: User }) {
  const policies = useLoad(() => get<{ items: FilterPolicy[] }>('/api/v1/filter-policies'), []);
  // Policies apply across domains: only an administrator of every domain edits them.
  const editPolicies = userCan(user, 'policies.write') && user.domains === null;
  const assign = userCan(user, 'policies.write');
  const [editing, setEditing] = useState<string | null>(null);
  const remove = useAction();
  return (
    <>
      <PageHeader
        title="Filter policies"
        intro="A policy sets the spam scores at which mail is tagged, quarantined or rejected, and what happens to malware and banned attachments. Every recipient gets the policy assigned to its address, else its domain's, else the default one."
      />
      {!userCan(user, 'policies.write') && <ReadOnlyNotice what="filter policies" />}
      {editPolicies && <NewPolicy onCreated={policies.reload} />}
      {remove.error !== null && <ErrorNotice error={remove.error} />}
      <Show value={policies}>
        {(p) =>
          p.items.length === 0 ? (
            <Empty title="No filter policies">The gateway makes a "default" policy when it starts; restart it if this list stays empty.</Empty>
          ) : (
            <table class="list" data-testid="policies">
              <thead>
                <tr>
                  <th>Policy</th>
                  <th class="num">Tag at</th>
                  <th class="num">Quarantine at</th>
                  <th class="num">Reject at</th>
                  <th>Spam</th>
                  <th>Malware</th>
                  <th>Banned</th>
                  <th>File rules</th>
                  {editPolicies && <th />}
                </tr>
              </thead>
              <tbody>
                {p.items.map((x) =>
                  editing === x.name ? (
                    <tr key={x.name}>
                      <td colSpan={9}>
                        <EditPolicy
                          policy={x}
                          onDone={() => {
                            setEditing(null);
                            policies.reload();
                          }}
                        />
                      </td>
                    </tr>
                  ) : (
                    <tr key={x.name}>
                      <td>
                        <strong>{x.name}</strong>
                        {x.description && <div class="muted">{x.description}</div>}
                        {!x.spamChecks && <div class="muted">spam checks off</div>}
                      </td>
                      <td class="num">{x.tagScore ?? 'off'}</td>
                      <td class="num">{x.quarantineScore ?? 'off'}</td>
                      <td class="num">{x.rejectScore ?? 'off'}</td>
                      <td>
                        <Badge>{x.spamAction}</Badge>
                      </td>
                      <td>
                        <Badge>{x.malwareAction}</Badge>
                      </td>
                      <td>
                        <Badge>{x.bannedAction}</Badge>
                      </td>
                      <td>{x.fileRules ?? 'default'}</td>
                      {editPolicies && (
                        <td class="row-actions">
                          <button class="small secondary" onClick={() => setEditing(x.name)}>
                            Edit
                          </button>
                          {x.name !== 'default' && (
                            <button
                              class="small danger"
                              disabled={remove.busy}
                              onClick={() => {
                                if (confirm(`Delete the policy ${x.name}?`)) void remove.run(() => del(`/api/v1/filter-policies/${encodeURIComponent(x.name)}`)).then((ok) => ok && policies.reload());
                              }}
                            >
                              Delete
                            </button>
                          )}
                        </td>
                      )}
                    </tr>
                  ),
                )}
              </tbody>
            </table>
          )
        }
      </Show>
      <Assignments user={user} canAssign={assign} policies={policies.data?.items.map((p) => p.name) ?? []} />
      <ResolveCheck />
    </>
  );
}

function NewPolicy({ onCreated }: { onCreated: () => void }) {
  const [name, setName] = useState('');
  const [f, setF] = useState({ tagScore: '2', quarantineScore: '5', rejectScore: '15', spamAction: 'quarantine' });
  const action = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    const ok = await action.run(() =>
      post('/api/v1/filter-policies', { name, tagScore: num(f.tagScore), quarantineScore: num(f.quarantineScore), rejectScore: num(f.rejectScore), spamAction: f.spamAction }),
    );
    if (ok) {
      setName('');
      onCreated();
    }
  };
  return (
    <form class="card" aria-label="New filter policy" onSubmit={(e) => void submit(e)}>
      <h2>New filter policy</h2>
      {action.error !== null && <ErrorNotice error={action.error} />}
      <div class="grid-form">
        <Field label="Name" hint="letters, digits, - and _">
          <input name="name" required value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="strict" />
        </Field>
        <ScoreFields values={f} onChange={(k, v) => setF({ ...f, [k]: v })} />
        <Field label="Spam action">
          <select name="spamAction" value={f.spamAction} onChange={(e) => setF({ ...f, spamAction: e.currentTarget.value })}>
            {POLICY_ACTIONS.map((a) => (
              <option key={a}>{a}</option>
            ))}
          </select>
        </Field>
      </div>
      <button type="submit" disabled={action.busy}>
        Create policy
      </button>
    </form>
  );
}

/** An empty score field means the level is off. */
const num = (s: string): number | null => (s.trim() === '' ? null : Number(s));
const str = (n: number | null): string => (n === null ? '' : String(n));

function ScoreFields({ values, onChange }: { values: { tagScore: string; quarantineScore: string; rejectScore: string }; onChange: (k: 'tagScore' | 'quarantineScore' | 'rejectScore', v: string) => void }) {
  return (
    <>
      <Field label="Tag at score" hint="empty: never">
        <input name="tagScore" type="number" step="0.1" value={values.tagScore} onInput={(e) => onChange('tagScore', e.currentTarget.value)} />
      </Field>
      <Field label="Quarantine at score" hint="empty: never">
        <input name="quarantineScore" type="number" step="0.1" value={values.quarantineScore} onInput={(e) => onChange('quarantineScore', e.currentTarget.value)} />
      </Field>
      <Field label="Reject at score" hint="empty: never">
        <input name="rejectScore" type="number" step="0.1" value={values.rejectScore} onInput={(e) => onChange('rejectScore', e.currentTarget.value)} />
      </Field>
    </>
  );
}

function EditPolicy({ policy, onDone }: { policy: FilterPolicy; onDone: () => void }) {
  const [f, setF] = useState({
    description: policy.description ?? '',
    tagScore: str(policy.tagScore),
    quarantineScore: str(policy.quarantineScore),
    rejectScore: str(policy.rejectScore),
    spamAction: policy.spamAction as string,
    malwareAction: policy.malwareAction as string,
    bannedAction: policy.bannedAction as string,
    badheaderAction: policy.badheaderAction as string,
    subjectTag: policy.subjectTag,
    spamChecks: policy.spamChecks,
    fileRules: policy.fileRules ?? '',
  });
  const action = useAction();
  const save = async (e: Event) => {
    e.preventDefault();
    const body: Partial<Editable> = {
      description: f.description || null,
      tagScore: num(f.tagScore),
      quarantineScore: num(f.quarantineScore),
      rejectScore: num(f.rejectScore),
      spamAction: f.spamAction as Editable['spamAction'],
      malwareAction: f.malwareAction as Editable['malwareAction'],
      bannedAction: f.bannedAction as Editable['bannedAction'],
      badheaderAction: f.badheaderAction as Editable['badheaderAction'],
      subjectTag: f.subjectTag,
      spamChecks: f.spamChecks,
      fileRules: f.fileRules || null,
    };
    if (await action.run(() => patch(`/api/v1/filter-policies/${encodeURIComponent(policy.name)}`, body))) onDone();
  };
  return (
    <form aria-label={`Edit policy ${policy.name}`} onSubmit={(e) => void save(e)}>
      <h2>Edit {policy.name}</h2>
      {action.error !== null && <ErrorNotice error={action.error} />}
      <div class="grid-form">
        <Field label="Description">
          <input name="description" value={f.description} onInput={(e) => setF({ ...f, description: e.currentTarget.value })} />
        </Field>
        <ScoreFields values={f} onChange={(k, v) => setF({ ...f, [k]: v })} />
        {ACTION_FIELDS.map(([k, label]) => (
          <Field key={k} label={label}>
            <select name={k} value={f[k]} onChange={(e) => setF({ ...f, [k]: e.currentTarget.value })}>
              {POLICY_ACTIONS.map((a) => (
                <option key={a}>{a}</option>
              ))}
            </select>
          </Field>
        ))}
        <Field label="Subject tag" hint="put in front of a tagged message's subject">
          <input name="subjectTag" value={f.subjectTag} onInput={(e) => setF({ ...f, subjectTag: e.currentTarget.value })} />
        </Field>
        <Field label="File rule set" hint="empty: default">
          <input name="fileRules" value={f.fileRules} onInput={(e) => setF({ ...f, fileRules: e.currentTarget.value })} />
        </Field>
        <label class="check">
          <input type="checkbox" checked={f.spamChecks} onChange={(e) => setF({ ...f, spamChecks: e.currentTarget.checked })} /> Run the spam checks
        </label>
      </div>
      <div class="form-actions">
        <button type="submit" disabled={action.busy}>
          Save
        </button>
        <button type="button" class="secondary" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function Assignments({ user, canAssign, policies }: { user: User; canAssign: boolean; policies: string[] }) {
  const list = usePagedList<PolicyAssignment>('/api/v1/filter-policies/assignments', {}, 100);
  const [target, setTarget] = useState('');
  const [policy, setPolicy] = useState('');
  const action = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    if (await action.run(() => put('/api/v1/filter-policies/assignments', { target, policy: policy || policies[0] }))) {
      setTarget('');
      list.reload();
    }
  };
  return (
    <section class="card">
      <h2>Who gets which policy</h2>
      {canAssign && (
        <form class="inline-form" aria-label="Assign a policy" onSubmit={(e) => void submit(e)}>
          <div class="row">
            <Field label="Recipient or domain" hint={user.domains ? `in ${user.domains.join(', ')}` : 'user@domain, a domain (and its subdomains), or "default"'}>
              <input name="target" required value={target} onInput={(e) => setTarget(e.currentTarget.value)} placeholder="ceo@example.org" />
            </Field>
            <Field label="Policy">
              <select name="policy" value={policy || policies[0]} onChange={(e) => setPolicy(e.currentTarget.value)}>
                {policies.map((p) => (
                  <option key={p}>{p}</option>
                ))}
              </select>
            </Field>
            <button type="submit" disabled={action.busy || policies.length === 0}>
              Assign
            </button>
          </div>
        </form>
      )}
      {action.error !== null && <ErrorNotice error={action.error} />}
      <ShowPaged list={list} emptyTitle="Everyone has the default policy" empty="Assign a policy to a recipient or a domain above to treat its mail differently.">
        {(rows) => (
          <table data-testid="assignments">
            <thead>
              <tr>
                <th>Applies to</th>
                <th>Policy</th>
                {canAssign && <th />}
              </tr>
            </thead>
            <tbody>
              {rows.map((a) => (
                <tr key={a.scope + a.target}>
                  <td>{a.scope === 'default' ? <span class="muted">everyone else (default)</span> : <>{a.target} <span class="muted">({a.scope})</span></>}</td>
                  <td>
                    <strong>{a.policy}</strong>
                  </td>
                  {canAssign && (
                    <td class="row-actions">
                      {a.scope !== 'default' && (
                        <button class="small danger" onClick={() => void action.run(() => del(`/api/v1/filter-policies/assignments/${encodeURIComponent(a.target)}`)).then((ok) => ok && list.reload())}>
                          Remove
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </ShowPaged>
    </section>
  );
}

function ResolveCheck() {
  const [address, setAddress] = useState('');
  const [result, setResult] = useState<{ address: string; policy: string; via: string } | null>(null);
  const action = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    setResult(null);
    await action.run(async () => setResult(await get(`/api/v1/filter-policies/resolve${query({ address })}`)));
  };
  return (
    <form class="card" aria-label="Which policy applies" onSubmit={(e) => void submit(e)}>
      <h2>Which policy applies?</h2>
      <div class="inline-form">
        <div class="row">
          <Field label="Recipient address">
            <input name="address" required value={address} onInput={(e) => setAddress(e.currentTarget.value)} placeholder="bob@example.org" />
          </Field>
          <button type="submit" class="secondary" disabled={action.busy}>
            Check
          </button>
        </div>
      </div>
      {action.error !== null && <ErrorNotice error={action.error} />}
      {result && (
        <p class="result" data-testid="resolved">
          Mail to <strong>{result.address}</strong> gets the policy <strong>{result.policy}</strong> ({result.via}).
        </p>
      )}
    </form>
  );
}
