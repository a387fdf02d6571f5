// Hash routing (#/quarantine/abc): no server round trip between pages, and links work
// from bookmarks because every page reads its state from the hash.
import { useEffect, useState } from 'preact/hooks';

export interface Route {
  /** First path segment: "quarantine". */
  page: string;
  /** The rest: ["abc"]. */
  args: string[];
  /** After "?" in the hash: filters a page was opened with (#/trace?address=a@b). */
  query: URLSearchParams;
}

function parse(hash: string): Route {
  const [path = '', search = ''] = hash.replace(/^#\/?/, '').split('?', 2);
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { page: parts[0] ?? 'dashboard', args: parts.slice(1), query: new URLSearchParams(search) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parse(location.hash));
  useEffect(() => {
    const on = () => setRoute(parse(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

export function href(...parts: string[]): string {
  return '#/' + parts.map(encodeURIComponent).join('/');
}

export function go(...parts: string[]): void {
  location.hash = href(...parts);
}
