// URL and domain helpers for the link checks and the tokenizer.

export interface UrlInfo {
  /** The URL as written (entities decoded), cut to 512 characters. */
  url: string;
  scheme: string;
  /** Lowercase host without userinfo, port or trailing dot; '' when none could be read. */
  host: string;
  /** The host had user information before it (http://paypal.com@evil.example/). */
  userinfo: boolean;
  /** The host was written with %-escapes. */
  escapedHost: boolean;
}

const IPV4_RE = /^\d{1,3}(?:\.\d{1,3}){3}$/;

export function isIpHost(host: string): boolean {
  return IPV4_RE.test(host) || host.startsWith('[') || /^(?:0x[0-9a-f]+|\d{8,10})$/i.test(host);
}

/** Second-level labels under which ccTLDs register names (co.uk, com.au, ne.jp ...). */
const SECOND_LEVEL = new Set(['co', 'com', 'net', 'org', 'gov', 'edu', 'ac', 'or', 'ne', 'go', 'gob', 'mil', 'nic', 'ltd', 'plc', 'sch', 'nom', 'gen', 'info', 'biz']);

/**
 * The registrable part of a host name, approximated without the Public Suffix List:
 * the last two labels, or three under a ccTLD second level such as co.uk.
 */
export function baseDomain(host: string): string {
  const h = host.toLowerCase().replace(/\.$/, '');
  if (!h || isIpHost(h)) return h;
  const labels = h.split('.');
  if (labels.length <= 2) return h;
  const tld = labels[labels.length - 1]!;
  const sld = labels[labels.length - 2]!;
  if (tld.length === 2 && SECOND_LEVEL.has(sld)) return labels.slice(-3).join('.');
  return labels.slice(-2).join('.');
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Parses an absolute URL, or one starting with "www.", leniently. */
export function parseUrl(raw: string): UrlInfo | null {
  const url = raw.trim().slice(0, 512);
  let m = /^([a-zA-Z][a-zA-Z0-9+.-]{0,15}):(?:\/\/)?/.exec(url);
  let scheme: string;
  let rest: string;
  if (m) {
    scheme = m[1]!.toLowerCase();
    rest = url.slice(m[0].length);
    if (scheme !== 'http' && scheme !== 'https' && scheme !== 'ftp') {
      return { url, scheme, host: '', userinfo: false, escapedHost: false };
    }
  } else if (/^www\./i.test(url)) {
    scheme = 'http';
    rest = url;
  } else {
    return null;
  }
  // Browsers treat backslashes like slashes in http URLs.
  m = /^[^/?#\\]*/.exec(rest);
  let authority = m ? m[0] : '';
  let userinfo = false;
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    userinfo = true;
    authority = authority.slice(at + 1);
  }
  let escapedHost = false;
  if (authority.includes('%')) {
    escapedHost = true;
    authority = safeDecode(authority);
  }
  let host = authority.startsWith('[') ? authority.slice(0, authority.indexOf(']') + 1) : authority.replace(/:\d*$/, '');
  host = host.toLowerCase().replace(/\.+$/, '');
  if (!/^[\p{L}\p{N}.\-_[\]:]+$/u.test(host)) host = host.replace(/[^\p{L}\p{N}.\-_[\]:].*$/u, '');
  return { url, scheme, host, userinfo, escapedHost };
}

const TEXT_URL_RE = /\b(?:(?:https?|ftp):\/\/|www\.)[^\s<>"'`()[\]{}]+/gi;

/** URLs written in plain text, at most `limit`. */
export function findTextUrls(text: string, limit = 100): UrlInfo[] {
  const out: UrlInfo[] = [];
  TEXT_URL_RE.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = TEXT_URL_RE.exec(text)) && out.length < limit) {
    const u = parseUrl(m[0].replace(/[.,;:!?]+$/, ''));
    if (u && u.host) out.push(u);
  }
  return out;
}

const DOMAIN_IN_TEXT_RE = /^(?:(?:https?|ftp):\/\/)?(?:[a-z0-9-]+\.)+[a-z]{2,}(?::\d+)?(?:[/?#]\S*)?$/i;

/**
 * The host a link's text shows when that text looks like a URL or bare domain name
 * ("www.bank.example", "https://bank.example/login"), else null.
 */
export function hostShownInText(text: string): string | null {
  const t = text.trim();
  if (t.length < 4 || t.length > 300 || /\s/.test(t)) return null;
  if (!DOMAIN_IN_TEXT_RE.test(t)) return null;
  // A dotted word with a file extension is not a domain ("report.pdf", "index.html").
  const withScheme = /^[a-z]+:\/\//i.test(t) ? t : `http://${t}`;
  const u = parseUrl(withScheme);
  if (!u || !u.host || !u.host.includes('.')) return null;
  if (!/^[a-z]+:\/\//i.test(t) && !/^www\./i.test(t) && /\.(?:html?|php|aspx?|jsp|pdf|docx?|xlsx?|pptx?|zip|exe|txt|jpe?g|gif|png|cgi|pl)$/i.test(u.host)) return null;
  return u.host;
}
