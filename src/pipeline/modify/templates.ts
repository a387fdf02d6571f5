// Templates with placeholders, for banners, disclaimers and signatures:
//   {{sender.address}} {{sender.name}} {{sender.domain}} {{date}}
//   {{user.FIELD}}   a per-sender field kept in the database (name, title, phone, ...)
//   {{image.NAME}}   (HTML only) the cid: URL of the template's inline image NAME
// Values are HTML-escaped in HTML templates. An unknown placeholder is refused when the
// template is saved, so a typo never reaches a recipient as "{{sender.adress}}".

export interface TemplateValues {
  sender: { address: string; name: string; domain: string };
  /** The message's date as written in its Date header (or the time we received it). */
  date: string;
  /** Per-sender fields. */
  user: Record<string, string>;
  /** Image name → Content-ID. */
  images: Record<string, string>;
}

const PLACEHOLDER = /\{\{\s*([a-z][a-z0-9_.-]*)\s*\}\}/gi;
const FIELD_NAME = /^[a-z][a-z0-9_-]{0,63}$/i;

export function isFieldName(name: string): boolean {
  return FIELD_NAME.test(name);
}

/** Problems with a template's placeholders (empty when it is fine). */
export function templateProblems(source: string, isHtml: boolean, imageNames: readonly string[] = []): string[] {
  const problems: string[] = [];
  for (const m of source.matchAll(PLACEHOLDER)) {
    const key = m[1]!.toLowerCase();
    if (['sender.address', 'sender.name', 'sender.domain', 'date'].includes(key)) continue;
    if (key.startsWith('user.') && isFieldName(key.slice(5))) continue;
    if (key.startsWith('image.')) {
      if (!isHtml) problems.push(`${m[0]}: images only work in the HTML template`);
      else if (!imageNames.includes(key.slice(6))) problems.push(`${m[0]}: the template has no image "${key.slice(6)}" (add it with --image ${key.slice(6)}=FILE)`);
      continue;
    }
    problems.push(`${m[0]} is not a known placeholder (known: {{sender.address}}, {{sender.name}}, {{sender.domain}}, {{date}}, {{user.FIELD}}, {{image.NAME}})`);
  }
  return problems;
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** Image names a template's HTML refers to. */
export function imagesUsed(html: string): string[] {
  return [...new Set([...html.matchAll(PLACEHOLDER)].map((m) => m[1]!.toLowerCase()).filter((k) => k.startsWith('image.')).map((k) => k.slice(6)))];
}

export function renderTemplate(source: string, values: TemplateValues, isHtml: boolean): string {
  return source.replace(PLACEHOLDER, (whole, raw: string) => {
    const key = raw.toLowerCase();
    let v: string | undefined;
    if (key === 'sender.address') v = values.sender.address;
    else if (key === 'sender.name') v = values.sender.name || values.sender.address;
    else if (key === 'sender.domain') v = values.sender.domain;
    else if (key === 'date') v = values.date;
    else if (key.startsWith('user.')) v = values.user[key.slice(5)] ?? '';
    else if (key.startsWith('image.')) {
      const cid = values.images[key.slice(6)];
      return cid ? `cid:${cid}` : '';
    } else return whole;
    return isHtml ? escapeHtml(v) : v;
  });
}
