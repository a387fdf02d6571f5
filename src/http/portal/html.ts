// Server-rendered pages of the user portal and of the one-click link confirmations.
// Every value is escaped here; pages carry no script at all (the CSP forbids inline
// script and style anyway), so they work in any browser and leave nothing to inject.
export const esc = (v: unknown): string =>
  String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** A trusted piece of markup (built with esc/html from values). */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/** Tagged template: interpolated values are escaped unless they are Html (or arrays of it). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1]!;
  });
  return new Html(out);
}

function render(v: unknown): string {
  if (v instanceof Html) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  if (v === null || v === undefined || v === false) return '';
  return esc(v);
}

export const PORTAL_CSS_PATH = '/portal/assets/portal.css';

export interface PageOptions {
  title: string;
  body: Html;
  /** Signed-in pages show the navigation and the sign-out button. */
  nav?: { user: string; csrf: string; current: string };
}

export function page(o: PageOptions): string {
  const item = (href: string, label: string, key: string) => html`<a href="${href}" class="${o.nav?.current === key ? 'current' : ''}">${label}</a>`;
  return `<!doctype html>${html`<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${o.title} · Hermes mail portal</title><link rel="stylesheet" href="${PORTAL_CSS_PATH}"></head>
<body><header><span class="brand">Hermes mail portal</span>${
    o.nav
      ? html`<nav>${item('/portal/', 'Quarantine', 'quarantine')}${item('/portal/lists', 'Allow & block', 'lists')}${item('/portal/settings', 'Settings', 'settings')}</nav>
<form method="post" action="/portal/logout" class="signout"><input type="hidden" name="csrf" value="${o.nav.csrf}"><span>${o.nav.user}</span> <button type="submit">Sign out</button></form>`
      : ''
  }</header><main>${o.body}</main></body></html>`.value}`;
}

/** A page that says what went wrong and what to do, nothing more. */
export function problemPage(title: string, message: string, next?: { href: string; label: string }): string {
  return page({ title, body: html`<section class="card problem"><h1>${title}</h1><p>${message}</p>${next ? html`<p><a href="${next.href}">${next.label}</a></p>` : ''}</section>` });
}

export const PORTAL_CSS = `
*{box-sizing:border-box}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#111827;background:#f3f4f6}
header{display:flex;align-items:center;gap:24px;padding:10px 24px;background:#1f2937;color:#fff;flex-wrap:wrap}
header .brand{font-weight:700}
header nav a{color:#d1d5db;text-decoration:none;margin-right:16px}
header nav a.current{color:#fff;border-bottom:2px solid #60a5fa}
header .signout{margin-left:auto;display:flex;gap:8px;align-items:center}
main{max-width:1100px;margin:24px auto;padding:0 16px}
.card{background:#fff;border-radius:8px;padding:20px;box-shadow:0 1px 2px rgba(0,0,0,.08);margin-bottom:16px}
.problem h1{color:#b91c1c}
h1{font-size:1.4rem;margin:0 0 12px}
h2{font-size:1.1rem;margin:0 0 10px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:8px;border-bottom:1px solid #e5e7eb;vertical-align:top}
th{font-size:.85rem;color:#4b5563}
td.num{text-align:right}
.tabs a{display:inline-block;padding:6px 12px;margin:0 6px 8px 0;border-radius:16px;background:#e5e7eb;color:#111827;text-decoration:none}
.tabs a.current{background:#2563eb;color:#fff}
button,.button{display:inline-block;padding:6px 12px;border:0;border-radius:4px;background:#2563eb;color:#fff;font-size:.9rem;cursor:pointer;text-decoration:none}
button.secondary,.button.secondary{background:#6b7280}
button.danger{background:#b91c1c}
button.ok{background:#15803d}
form.inline{display:inline}
label{display:block;margin:10px 0 4px;font-weight:600}
input[type=text],input[type=password],input[type=email],select{padding:6px 8px;border:1px solid #d1d5db;border-radius:4px;min-width:260px;font-size:1rem}
.muted{color:#6b7280;font-size:.9rem}
.empty{padding:14px 16px;border:1px dashed #cbd5e1;border-radius:6px;background:#f8fafc}.empty p{margin:6px 0}
.notice{padding:10px 14px;border-radius:6px;background:#ecfdf5;color:#065f46;margin-bottom:16px}
.error{padding:10px 14px;border-radius:6px;background:#fef2f2;color:#991b1b;margin-bottom:16px}
dl.summary{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0 0 16px}
dl.summary dt{font-weight:600;color:#4b5563}
iframe.preview{width:100%;height:480px;border:1px solid #e5e7eb;border-radius:4px;background:#fff}
pre.preview{white-space:pre-wrap;word-break:break-word;background:#f9fafb;border:1px solid #e5e7eb;border-radius:4px;padding:12px;max-height:480px;overflow:auto}
.actions{display:flex;gap:8px;flex-wrap:wrap;margin-top:12px}
img.qr{width:200px;height:200px}
code.codes{display:block;white-space:pre;background:#f9fafb;padding:10px}
`;
