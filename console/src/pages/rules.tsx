// Message rules: conditions on headers, body, links, envelope, size or attachment names,
// and what to do when they hold. The editor tests the rule as written (saved or not) on
// a pasted message before it touches real mail.
import { useState } from 'preact/hooks';
import { del, get, post, put } from '../api.ts';
import { Badge, Empty, ErrorNotice, Field, PageHeader, ReadOnlyNotice, Show, useAction, useLoad } from '../components.tsx';
import { RULE_ACTIONS, RULE_FIELDS, RULE_OPS, type MessageRule, type RuleAction, type RuleCondition, type RuleTestResult } from '../filter-types.ts';
import { userCan, type User } from '../session.ts';

const SAMPLE = ['From: Ann <ann@partner.example>', 'To: bob@example.org', 'Subject: Your invoice is overdue', '', 'Please pay the attached invoice today.', ''].join('\n');

export function conditionText(c: RuleCondition): string {
  const what = c.field === 'header' ? `header ${c.header ?? ''}` : c.field;
  return `${c.negate ? 'not ' : ''}${what} ${c.op} ${JSON.stringify(c.value)}`;
}

const actionText = (a: RuleAction) => (a.value === undefined || a.value === '' ? a.action : `${a.action} ${a.value}`);

const blankRule = (): MessageRule => ({
  name: '',
  description: null,
  enabled: true,
  priority: 100,
  match: 'all',
  conditions: [{ field: 'header', header: 'Subject', op: 'contains', value: '' }],
  actions: [{ action: 'quarantine' }],
});

export function RulesPage({ user }: { user: User }) {
  const rules = useLoad(() => get<{ items: MessageRule[] }>('/api/v1/rules'), []);
  const writable = userCan(user, 'rules.write');
  const [draft, setDraft] = useState<{ rule: MessageRule; stored: boolean }>({ rule: blankRule(), stored: false });
  const action = useAction();
  const act = (fn: () => Promise<unknown>) => void action.run(fn).then((ok) => ok && rules.reload());
  const path = (name: string) => `/api/v1/rules/${encodeURIComponent(name)}`;
  return (
    <>
      <PageHeader title="Message rules" intro="Your own checks, run on every message in priority order (lowest first). A rule can add to the spam score, add a header, redirect, copy, quarantine, reject, or let the message bypass the filter." />
      {!writable && <ReadOnlyNotice what="the rules" />}
      {action.error !== null && <ErrorNotice error={action.error} />}
      <Show value={rules}>
        {(r) =>
          r.items.length === 0 ? (
            <Empty title="No message rules">Write one below, test it on a sample message, then save it. Rules catch what the spam score does not: a supplier's invoice scam, a subject your staff must never receive.</Empty>
          ) : (
            <table class="list" data-testid="rules">
              <thead>
                <tr>
                  <th>Rule</th>
                  <th class="num">Priority</th>
                  <th>When</th>
                  <th>Then</th>
                  <th>State</th>
                  {writable && <th />}
                </tr>
              </thead>
              <tbody>
                {r.items.map((x) => (
                  <tr key={x.name}>
                    <td class="name">
                      <strong>{x.name}</strong>
                      {x.description && <div class="muted">{x.description}</div>}
                    </td>
                    <td class="num">{x.priority}</td>
                    <td>
                      <span class="muted">{x.match === 'all' ? 'all of' : 'any of'}</span>
                      <ul class="plain">
                        {x.conditions.map((c, i) => (
                          <li key={i}>
                            <code>{conditionText(c)}</code>
                          </li>
                        ))}
                      </ul>
                    </td>
                    <td>{x.actions.map(actionText).join(', ')}</td>
                    <td>{x.enabled ? <Badge kind="ok">on</Badge> : <Badge>off</Badge>}</td>
                    {writable && (
                      <td class="row-actions">
                        <button class="small secondary" onClick={() => setDraft({ rule: structuredClone(x), stored: true })}>
                          Edit
                        </button>
                        {x.enabled ? (
                          <button class="small secondary" onClick={() => act(() => post(`${path(x.name)}/disable`))}>
                            Turn off
                          </button>
                        ) : (
                          <button class="small secondary" onClick={() => act(() => post(`${path(x.name)}/enable`))}>
                            Turn on
                          </button>
                        )}
                        <button
                          class="small danger"
                          onClick={() => {
                            if (confirm(`Delete the rule ${x.name}?`)) act(() => del(path(x.name)));
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
          )
        }
      </Show>
      <RuleEditor
        key={draft.rule.name + String(draft.stored)}
        initial={draft.rule}
        stored={draft.stored}
        writable={writable}
        onSaved={() => {
          setDraft({ rule: blankRule(), stored: false });
          rules.reload();
        }}
        onCancel={() => setDraft({ rule: blankRule(), stored: false })}
      />
    </>
  );
}

function RuleEditor({ initial, stored, writable, onSaved, onCancel }: { initial: MessageRule; stored: boolean; writable: boolean; onSaved: () => void; onCancel: () => void }) {
  const [rule, setRule] = useState<MessageRule>(initial);
  const [message, setMessage] = useState(SAMPLE);
  const [result, setResult] = useState<RuleTestResult | null>(null);
  const save = useAction();
  const test = useAction();
  const setCond = (i: number, c: Partial<RuleCondition>) => setRule({ ...rule, conditions: rule.conditions.map((x, j) => (j === i ? { ...x, ...c } : x)) });
  const setAct = (i: number, a: Partial<RuleAction>) => setRule({ ...rule, actions: rule.actions.map((x, j) => (j === i ? { ...x, ...a } : x)) });
  /** The rule as the API takes it: size values are numbers, empty action values left out. */
  const body = () => ({
    name: rule.name,
    description: rule.description || null,
    enabled: rule.enabled,
    priority: rule.priority,
    match: rule.match,
    conditions: rule.conditions.map((c) => ({
      field: c.field,
      ...(c.field === 'header' ? { header: c.header ?? '' } : {}),
      op: c.op,
      value: c.field === 'size' ? Number(c.value) : String(c.value),
      ...(c.negate ? { negate: true } : {}),
      ...(c.caseSensitive ? { caseSensitive: true } : {}),
    })),
    actions: rule.actions.map((a) => ({ action: a.action, ...(a.value !== undefined && a.value !== '' ? { value: a.action === 'score' ? Number(a.value) : String(a.value) } : {}) })),
  });
  const runTest = async () => {
    setResult(null);
    await test.run(async () => setResult(await post<RuleTestResult>('/api/v1/rules/test', { rule: { ...body(), name: rule.name || 'draft' }, message: message.replace(/\r?\n/g, '\r\n') })));
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    const b = body();
    const ok = await save.run(() => (stored ? put(`/api/v1/rules/${encodeURIComponent(rule.name)}`, { ...b, name: undefined }) : post('/api/v1/rules', b)));
    if (ok) onSaved();
  };
  return (
    <form class="card" aria-label="Rule editor" onSubmit={(e) => void submit(e)}>
      <h2>{stored ? `Edit rule ${rule.name}` : writable ? 'New rule' : 'Try a rule'}</h2>
      {save.error !== null && <ErrorNotice error={save.error} />}
      <div class="grid-form">
        <Field label="Rule name">
          <input name="name" required value={rule.name} disabled={stored} onInput={(e) => setRule({ ...rule, name: e.currentTarget.value })} placeholder="invoice-scam" />
        </Field>
        <Field label="Description">
          <input name="description" value={rule.description ?? ''} onInput={(e) => setRule({ ...rule, description: e.currentTarget.value })} />
        </Field>
        <Field label="Priority" hint="lower runs first">
          <input name="priority" type="number" value={rule.priority} onInput={(e) => setRule({ ...rule, priority: Number(e.currentTarget.value) })} />
        </Field>
        <Field label="Match">
          <select name="match" value={rule.match} onChange={(e) => setRule({ ...rule, match: e.currentTarget.value as 'all' | 'any' })}>
            <option value="all">all conditions</option>
            <option value="any">any condition</option>
          </select>
        </Field>
      </div>
      <h3>Conditions</h3>
      {rule.conditions.map((c, i) => (
        <div class="grid-form" key={i} role="group" aria-label={`Condition ${i + 1}`}>
          <Field label="Field">
            <select value={c.field} onChange={(e) => setCond(i, { field: e.currentTarget.value as RuleCondition['field'] })}>
              {RULE_FIELDS.map((f) => (
                <option key={f}>{f}</option>
              ))}
            </select>
          </Field>
          {c.field === 'header' && (
            <Field label="Header">
              <input value={c.header ?? ''} onInput={(e) => setCond(i, { header: e.currentTarget.value })} />
            </Field>
          )}
          <Field label="Test">
            <select value={c.op} onChange={(e) => setCond(i, { op: e.currentTarget.value as RuleCondition['op'] })}>
              {RULE_OPS.map((o) => (
                <option key={o}>{o}</option>
              ))}
            </select>
          </Field>
          <Field label="Value">
            <input value={String(c.value)} onInput={(e) => setCond(i, { value: e.currentTarget.value })} />
          </Field>
          <label class="check">
            <input type="checkbox" checked={!!c.negate} onChange={(e) => setCond(i, { negate: e.currentTarget.checked })} /> must not hold
          </label>
          {rule.conditions.length > 1 && (
            <button type="button" class="small danger" onClick={() => setRule({ ...rule, conditions: rule.conditions.filter((_, j) => j !== i) })}>
              Remove
            </button>
          )}
        </div>
      ))}
      <button type="button" class="small secondary" onClick={() => setRule({ ...rule, conditions: [...rule.conditions, { field: 'body', op: 'contains', value: '' }] })}>
        Add a condition
      </button>
      <h3>Actions</h3>
      {rule.actions.map((a, i) => (
        <div class="grid-form" key={i} role="group" aria-label={`Action ${i + 1}`}>
          <Field label="Action">
            <select value={a.action} onChange={(e) => setAct(i, { action: e.currentTarget.value as RuleAction['action'] })}>
              {RULE_ACTIONS.map((x) => (
                <option key={x}>{x}</option>
              ))}
            </select>
          </Field>
          {a.action !== 'quarantine' && a.action !== 'bypass' && (
            <Field label="Value" hint={{ score: 'points to add', header: 'Name: value', redirect: 'address', bcc: 'address', reject: 'reply text (optional)' }[a.action] ?? ''}>
              <input value={a.value === undefined ? '' : String(a.value)} onInput={(e) => setAct(i, { value: e.currentTarget.value })} />
            </Field>
          )}
          {rule.actions.length > 1 && (
            <button type="button" class="small danger" onClick={() => setRule({ ...rule, actions: rule.actions.filter((_, j) => j !== i) })}>
              Remove
            </button>
          )}
        </div>
      ))}
      <button type="button" class="small secondary" onClick={() => setRule({ ...rule, actions: [...rule.actions, { action: 'score', value: 1 }] })}>
        Add an action
      </button>
      <section class="test-box" aria-label="Test this rule on a message">
        <h3>Test this rule on a message</h3>
        <Field label="Message" hint="headers, an empty line, then the body; paste a real one from your mail client's 'show original'">
          <textarea name="message" rows={8} value={message} onInput={(e) => setMessage(e.currentTarget.value)} />
        </Field>
        <div class="form-actions">
          <button type="button" class="secondary" disabled={test.busy} onClick={() => void runTest()}>
            Test rule
          </button>
        </div>
        {test.error !== null && <ErrorNotice error={test.error} />}
        {result && (
          <div class={`result ${result.matched ? 'match' : 'nomatch'}`} data-testid="rule-test-result">
            <strong>{result.matched ? `The rule matches: it would ${result.actions.map(actionText).join(', ')}.` : 'The rule does not match this message.'}</strong>
            <ul class="plain">
              {result.conditions.map((c, i) => (
                <li key={i} class={c.held ? 'held' : 'not-held'}>
                  {c.held ? '✓' : '✗'} <code>{conditionText(c.condition)}</code>
                </li>
              ))}
            </ul>
            <div class="muted">
              Envelope: from {result.envelope.from || '<>'} to {result.envelope.to.join(', ')}
            </div>
          </div>
        )}
      </section>
      {writable && (
        <div class="form-actions">
          <button type="submit" disabled={save.busy}>
            {stored ? 'Save rule' : 'Add rule'}
          </button>
          {stored && (
            <button type="button" class="secondary" onClick={onCancel}>
              Cancel
            </button>
          )}
        </div>
      )}
    </form>
  );
}
