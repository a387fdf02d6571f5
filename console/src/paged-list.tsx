// A cursor-paged list from the API (quarantine, trace, queue, audit, lists): the first
// page loads whenever the filters change, "Show more" appends the next one, and
// ShowPaged renders the loading, error and empty states around the rows.
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { get, query, type Page } from './api.ts';
import { Empty, ErrorNotice } from './components.tsx';

type Params = Record<string, string | number | undefined | null>;

export interface PagedList<T> {
  /** Every row loaded so far (undefined until the first page arrives). */
  rows: T[] | undefined;
  error: unknown;
  /** True while the first page (or a reload) is on its way. */
  loading: boolean;
  /** True while "Show more" is fetching. */
  loadingMore: boolean;
  hasMore: boolean;
  more: () => void;
  /** Loads the first page again (after a change the list should show). */
  reload: () => void;
  /** Changes each time a first page arrives: pages reset per-list state (selections) on it. */
  generation: number;
}

export function usePagedList<T>(path: string, params: Params, limit = 50): PagedList<T> {
  const key = path + query({ ...params, limit });
  const [state, setState] = useState<{ rows?: T[]; cursor: string | null; error?: unknown; loading: boolean; loadingMore: boolean; generation: number }>({ cursor: null, loading: true, loadingMore: false, generation: 0 });
  const [tick, setTick] = useState(0);
  // A "more" answer that arrives after the filters changed belongs to the old list.
  const current = useRef(key);
  useEffect(() => {
    current.current = key;
    let live = true;
    setState((s) => ({ ...s, loading: true, error: undefined }));
    get<Page<T>>(key).then(
      (page) => live && setState((s) => ({ rows: page.items, cursor: page.nextCursor, loading: false, loadingMore: false, generation: s.generation + 1 })),
      (error: unknown) => live && setState((s) => ({ ...s, error, loading: false })),
    );
    return () => {
      live = false;
    };
  }, [key, tick]);
  const more = useCallback(() => {
    const cursor = state.cursor;
    if (!cursor || state.loadingMore) return;
    const asked = key;
    setState((s) => ({ ...s, loadingMore: true }));
    get<Page<T>>(path + query({ ...params, limit, cursor })).then(
      (page) => asked === current.current && setState((s) => ({ ...s, rows: [...(s.rows ?? []), ...page.items], cursor: page.nextCursor, loadingMore: false })),
      (error: unknown) => asked === current.current && setState((s) => ({ ...s, error, loadingMore: false })),
    );
  }, [key, state.cursor, state.loadingMore]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { rows: state.rows, error: state.error, loading: state.loading, loadingMore: state.loadingMore, hasMore: state.cursor !== null, more, reload, generation: state.generation };
}

/** The rows of a paged list, or its error, its loading line, or its empty state; "Show more" under the rows. */
export function ShowPaged<T>(p: { list: PagedList<T>; emptyTitle: string; empty: ComponentChildren; children: (rows: T[]) => ComponentChildren }) {
  const { list } = p;
  return (
    <>
      {list.error !== undefined && <ErrorNotice error={list.error} />}
      {list.rows === undefined ? (
        list.error === undefined && <p class="muted">Loading…</p>
      ) : list.rows.length === 0 ? (
        <Empty title={p.emptyTitle}>{p.empty}</Empty>
      ) : (
        <>
          {p.children(list.rows)}
          {list.hasMore && (
            <button class="secondary more" disabled={list.loadingMore} onClick={list.more}>
              {list.loadingMore ? 'Loading…' : 'Show more'}
            </button>
          )}
        </>
      )}
    </>
  );
}
