// Reading attachment names the way Windows does, since that is where they get opened:
// trailing dots and spaces are dropped ("evil.exe." runs as an .exe), the type is the
// last extension, and tricks that hide it from the reader are spotted (a harmless
// extension in front of the real one, padding, right-to-left override characters).

/** Unicode bidirectional controls: "invoice\u202Efdp.exe" is shown as "invoiceexe.pdf". */
const BIDI_CONTROLS = /[\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/** What Windows would call the file: trailing dots and whitespace removed, lowercase. */
export function normaliseFileName(name: string): string {
  return name
    .replace(/\0/g, '')
    .replace(/[\s.]+$/u, '')
    .toLowerCase();
}

/** The base name of a path inside an archive ("dir/sub/file.exe" → "file.exe"). */
export function baseName(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] ?? path;
}

/**
 * The extensions of a name, outermost last: "Invoice.PDF.exe" → ["pdf", "exe"]. An
 * extension is 1 to 10 letters or digits after a dot. A name that is only an
 * extension (".exe") has one: Windows runs it as such.
 */
export function extensionsOf(name: string): string[] {
  const base = baseName(normaliseFileName(name)).replace(BIDI_CONTROLS, '');
  const parts = base.split('.');
  const out: string[] = [];
  for (let i = parts.length - 1; i >= 1; i--) {
    const p = parts[i]!.trim();
    if (!/^[\p{L}\p{N}_-]{1,10}$/u.test(p)) break;
    out.unshift(p);
  }
  return out;
}

/** The extension that decides how the file is opened, or null. */
export function lastExtension(name: string): string | null {
  const ext = extensionsOf(name);
  return ext.length ? ext[ext.length - 1]! : null;
}

/**
 * "invoice.pdf.exe" → { inner: "pdf", outer: "exe" }: a name that shows one type in
 * front of another. Digits-only inner parts are versions or dates ("setup.2.1.exe",
 * "report.2024.pdf"), not a second extension.
 */
export function doubleExtension(name: string): { inner: string; outer: string } | null {
  const ext = extensionsOf(name);
  if (ext.length < 2) return null;
  const inner = ext[ext.length - 2]!;
  const outer = ext[ext.length - 1]!;
  if (/^\d+$/.test(inner) || inner.length > 5) return null;
  return { inner, outer };
}

/**
 * Why a name hides its real type from the person reading it, or null: bidirectional
 * control characters, or a run of spaces or underscores that pushes the real
 * extension out of view ("report.pdf          .exe").
 */
export function disguisedName(name: string): string | null {
  if (BIDI_CONTROLS.test(name)) return 'name contains right-to-left/bidirectional control characters that disguise its extension';
  if (/(?:\s{3,}|_{6,})\.[^.]+$/u.test(name.replace(/[\s.]+$/u, ''))) return 'name pads the real extension out of view with spaces';
  return null;
}
