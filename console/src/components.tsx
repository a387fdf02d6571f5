// Building blocks every page uses: loading data with its error and empty states,
// tables, forms, notices. All text from the server goes in as text, never as HTML.
import { cloneElement, isValidElement, type ComponentChildren, type VNode } from 'preact';
import { useCallback, useEffect, useId, useState } from 'preact/hooks';
import { ApiError, isMissingApi } from './api.ts';

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` now and whenever `deps` change; reload() runs it again. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (error: unknown) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

export function PageHeader(p: { title: string; intro?: string; children?: ComponentChildren }) {
  return (
    <header class="page-header">
      <div>
        <h1>{p.title}</h1>
        {p.intro && <p class="intro">{p.intro}</p>}
      </div>
      <div class="actions">{p.children}</div>
    </header>
  );
}

export function ErrorNotice({ error }: { error: unknown }) {
  if (isMissingApi(error)) {
    return <div class="notice warn" role="status">This page needs a newer gateway API than this server has. Upgrade the gateway, then reload.</div>;
  }
  const message = error instanceof ApiError ? error.message : error instanceof Error ? error.message : String(error);
  const details = error instanceof ApiError ? Object.entries(error.details) : [];
  return (
    <div class="notice error" role="alert">
      <strong>{message}</strong>
      {details.length > 0 && (
        <ul>
          {details.map(([field, why]) => (
            <li key={field}>
              {field}: {why}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty">
      <h2>{title}</h2>
      <p>{children}</p>
    </div>
  );
}

/** Shows loading, error or the content of a Loaded value. */
export function Show<T>({ value, children }: { value: Loaded<T>; children: (data: T) => ComponentChildren }) {
  if (value.error) return <ErrorNotice error={value.error} />;
  if (value.data === undefined) return <p class="muted">Loading…</p>;
  return <>{children(value.data)}</>;
}

export function Badge({ kind, children }: { kind?: string; children: ComponentChildren }) {
  return <span class={`badge ${kind ?? ''}`}>{children}</span>;
}

export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** Runs an action, reporting its error; returns whether it succeeded. */
export function useAction(): { busy: boolean; error: unknown; run: (fn: () => Promise<unknown>) => Promise<boolean>; clear: () => void } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      return true;
    } catch (err) {
      setError(err);
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run, clear: () => setError(null) };
}

export function Field(p: { label: string; hint?: string; children: ComponentChildren }) {
  // The label names its control by id (not by wrapping it): a wrapped <select> would add
  // every option's text to its accessible name. The hint sits outside the label.
  const id = useId();
  const child = isValidElement(p.children) ? cloneElement(p.children as VNode<{ id?: string }>, { id: (p.children.props as { id?: string }).id ?? id }) : p.children;
  return (
    <div class="field">
      <label for={id}>
        <span class="label">{p.label}</span>
      </label>
      {child}
      {p.hint && <span class="hint">{p.hint}</span>}
    </div>
  );
}

/** Said on pages the role may read but not change (auditors, domain administrators on global settings). */
export function ReadOnlyNotice({ what }: { what: string }) {
  return (
    <div class="notice info" role="note">
      Read only: your role can see {what} but not change it. An administrator can make changes.
    </div>
  );
}

/** Text to copy: a DNS record, a zone line. */
export function CopyText({ text, label }: { text: string; label: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <div class="copy">
      <code aria-label={label}>{text}</code>
      <button
        type="button"
        class="secondary small"
        onClick={() =>
          void navigator.clipboard?.writeText(text).then(
            () => setCopied(true),
            () => setCopied(false),
          )
        }
      >
        {copied ? 'Copied' : 'Copy'}
      </button>
    </div>
  );
}
