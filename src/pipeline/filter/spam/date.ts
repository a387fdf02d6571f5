// RFC 5322 date-time parsing (obsolete forms accepted) for the header checks.

export interface ParsedDate {
  /** The instant, or null when it could not be read at all. */
  date: Date | null;
  /** Follows RFC 5322 (including its obsolete syntax). */
  valid: boolean;
  /** A numeric zone outside -14:00..+14:00 or with 60+ minutes. */
  absurdZone: boolean;
}

const MONTHS: Record<string, number> = { jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11 };
const ZONES: Record<string, number> = { ut: 0, utc: 0, gmt: 0, z: 0, est: -300, edt: -240, cst: -360, cdt: -300, mst: -420, mdt: -360, pst: -480, pdt: -420 };

const DATE_RE =
  /^\s*(?:(mon|tue|wed|thu|fri|sat|sun)[a-z]*\s*,?\s*)?(\d{1,2})\s*[- ]\s*(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\s*[- ]\s*(\d{2,4})\s+(\d{1,2})\s*:\s*(\d{1,2})(?:\s*:\s*(\d{1,2}(?:\.\d+)?))?\s*(?:([+-])(\d{2})(\d{2})|([a-z]{1,5}))?\s*(?:\(.*\))?\s*$/i;

export function parseMailDate(value: string): ParsedDate {
  const m = DATE_RE.exec(value);
  if (!m) {
    // Some software writes other shapes (ISO 8601, asctime); read them but call them invalid.
    const t = Date.parse(value);
    return { date: Number.isFinite(t) ? new Date(t) : null, valid: false, absurdZone: false };
  }
  const day = +m[2]!;
  const month = MONTHS[m[3]!.toLowerCase()]!;
  let year = +m[4]!;
  if (m[4]!.length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[4]!.length === 3) year += 1900;
  const hour = +m[5]!;
  const minute = +m[6]!;
  const second = m[7] ? Math.floor(+m[7]) : 0;
  let offsetMin = 0;
  let absurdZone = false;
  let valid = true;
  if (m[8]) {
    const hh = +m[9]!;
    const mm = +m[10]!;
    if (hh > 14 || mm >= 60) absurdZone = true;
    offsetMin = (m[8] === '-' ? -1 : 1) * (hh * 60 + mm);
  } else if (m[11]) {
    const z = m[11].toLowerCase();
    if (z in ZONES) offsetMin = ZONES[z]!;
    else if (z.length === 1) offsetMin = 0; // military zones: RFC 5322 says treat as -0000
    // other names (CEST, MET, JST...) are not RFC 5322 but common; read as UTC.
  } else {
    valid = false; // no zone at all
  }
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) valid = false;
  const t = Date.UTC(year, month, day, hour, minute, second) - offsetMin * 60_000;
  return { date: Number.isFinite(t) ? new Date(t) : null, valid, absurdZone };
}
