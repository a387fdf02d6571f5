// File rules (Hermes's "File Rules", MailScanner's filename and filetype rules): named,
// ordered sets of rules, each looking at one property of a file. For every file the
// first rule that matches decides: `ban` records it, `allow` lets it through (an
// exception to the rules below it). Files inside archives and attached messages are
// judged too, unless a rule says it is for top-level attachments only.
import type { BannedAttachment } from '../findings.ts';
import { CONTENT_FAMILIES, CONTENT_KINDS } from './magic.ts';
import { baseName, disguisedName, doubleExtension, lastExtension, normaliseFileName } from './file-names.ts';
import { ARCHIVE_CONDITIONS, type ArchiveCondition, type InspectedFile } from './inspect.ts';

export type FileRuleKind = 'extension' | 'double-extension' | 'disguised-name' | 'name' | 'declared-type' | 'detected-type' | 'archive';
export type FileRuleAction = 'ban' | 'allow';

export const FILE_RULE_KINDS: Record<FileRuleKind, string> = {
  extension: 'the last extension of the name is one of the values (exe, scr, ...)',
  'double-extension': 'the name shows one extension in front of a real one that is in the values ("invoice.pdf.exe"); "*" for any',
  'disguised-name': 'the name hides its real extension (right-to-left override characters, padding); takes no values',
  name: 'the whole file name matches a pattern (* and ? wildcards, case-insensitive)',
  'declared-type': 'the MIME type the sender declared matches a pattern (application/x-msdownload, application/x-*)',
  'detected-type': 'the content is of a kind or family found from its bytes (pe, elf, script, executable, ...; "macros" for Office macros)',
  archive: 'an archive could not be fully looked into: encrypted, corrupt, unsupported, too-large, too-many, too-deep',
};

export interface FileRule {
  /** Unique within its set: letters, digits, ".", "_", "-". */
  name: string;
  kind: FileRuleKind;
  values: string[];
  action: FileRuleAction;
  /** Also judge files inside archives and attached messages. */
  inArchives: boolean;
  description: string;
}

export interface FileRuleSet {
  name: string;
  description: string;
  rules: FileRule[];
}

/** Finds a rule set by name (undefined when there is none); see rule-set-store.ts. */
export type FileRuleSetLookup = (name: string) => FileRuleSet | undefined | Promise<FileRuleSet | undefined>;

const ARCHIVE_TEXT: Record<ArchiveCondition, string> = {
  encrypted: 'archive is password-protected, its contents cannot be checked',
  corrupt: 'archive is damaged and cannot be fully read',
  unsupported: 'archive uses a compression method that cannot be checked',
  'too-large': 'archive expands beyond the inspection limit (possible zip bomb)',
  'too-many': 'archive holds more files than the inspection limit',
  'too-deep': 'archives nested deeper than the inspection limit',
};

/** Extensions a kind of content normally has: anything else is a disguise worth saying so. */
const USUAL_EXTENSIONS: Record<string, string[]> = {
  pe: ['exe', 'dll', 'scr', 'com', 'sys', 'cpl', 'ocx', 'efi', 'drv', 'mui'],
  dos: ['exe', 'com'],
  elf: ['so', 'bin', 'elf', 'o', 'run'],
  macho: ['dylib', 'bin', 'app'],
  'java-class': ['class'],
  script: ['sh', 'bash', 'py', 'pl', 'rb', 'php'],
  registry: ['reg'],
  lnk: ['lnk'],
  msi: ['msi', 'msp'],
  iso: ['iso', 'img', 'udf'],
  'disk-image': ['img', 'ima', 'dsk', 'vfd'],
  vhd: ['vhd', 'vhdx'],
  jar: ['jar', 'war', 'ear'],
  zip: ['zip'],
  rar: ['rar'],
  '7z': ['7z'],
  cab: ['cab'],
  ole: ['doc', 'dot', 'xls', 'xlt', 'xla', 'ppt', 'pot', 'pps', 'msg', 'pub', 'vsd'],
  ooxml: ['docx', 'docm', 'dotx', 'dotm', 'xlsx', 'xlsm', 'xltx', 'xltm', 'xlam', 'pptx', 'pptm', 'potx', 'potm', 'ppsx', 'ppsm', 'vsdx', 'vsdm'],
  odf: ['odt', 'ods', 'odp', 'odg', 'ott', 'ots', 'otp'],
  pdf: ['pdf'],
  rtf: ['rtf', 'doc'],
  html: ['html', 'htm', 'xhtml', 'shtml'],
};

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

/** Why `rule` matches `file`, or null. */
export function matchFileRule(rule: FileRule, file: InspectedFile): string | null {
  if (!rule.inArchives && file.container !== null) return null;
  const values = rule.values;
  switch (rule.kind) {
    case 'extension': {
      const ext = lastExtension(file.name);
      return ext !== null && values.includes(ext) ? `extension .${ext}` : null;
    }
    case 'double-extension': {
      const d = doubleExtension(file.name);
      return d && (values.includes('*') || values.includes(d.outer)) ? `double extension .${d.inner}.${d.outer}` : null;
    }
    case 'disguised-name':
      return file.name ? disguisedName(file.name) : null;
    case 'name': {
      const name = baseName(normaliseFileName(file.name));
      const hit = name && values.find((g) => globToRegExp(g).test(name));
      return hit ? `name matches "${hit}"` : null;
    }
    case 'declared-type': {
      const t = file.declaredType;
      const hit = t && values.find((g) => globToRegExp(g).test(t));
      return hit ? `declared type ${t}` : null;
    }
    case 'detected-type': {
      const d = file.detected;
      if (!d) return null;
      const macros = d.macros === true && values.includes('macros');
      if (!macros && !values.includes(d.kind) && !values.includes(d.family)) return null;
      return disguiseReason(file, macros ? `${d.description} with macros` : d.description, d.kind);
    }
    case 'archive': {
      const c = file.conditions.find((x) => values.includes(x));
      return c ? ARCHIVE_TEXT[c] : null;
    }
  }
}

/** "named .pdf, declared application/pdf, but the content is a Windows executable". */
function disguiseReason(file: InspectedFile, what: string, kind: string): string {
  const ext = lastExtension(file.name);
  const usual = USUAL_EXTENSIONS[kind] ?? [];
  if (ext !== null && usual.includes(ext)) return `content is ${what}`;
  const claims: string[] = [];
  if (ext !== null) claims.push(`named .${ext}`);
  if (file.declaredType && file.declaredType !== 'application/octet-stream') claims.push(`declared ${file.declaredType}`);
  return claims.length ? `${claims.join(', ')} but the content is ${what}` : `content is ${what}`;
}

/** The files `set` bans: for each file the first matching rule decides. */
export function evaluateFileRuleSet(set: FileRuleSet, files: readonly InspectedFile[]): BannedAttachment[] {
  const out: BannedAttachment[] = [];
  for (const file of files) {
    for (const rule of set.rules) {
      const reason = matchFileRule(rule, file);
      if (reason === null) continue;
      if (rule.action === 'ban') out.push({ filename: file.path, ruleSet: set.name, rule: rule.name, reason });
      break;
    }
  }
  return out;
}

const RULE_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/i;
export const RULE_SET_NAME = RULE_NAME;

/** A rule as an admin typed it, checked and put in canonical form; throws a clear error. */
export function normaliseFileRule(rule: FileRule): FileRule {
  if (!RULE_NAME.test(rule.name)) throw new Error(`rule name "${rule.name}" must be 1-64 letters, digits, ".", "_" or "-"`);
  if (!Object.hasOwn(FILE_RULE_KINDS, rule.kind)) {
    throw new Error(`unknown rule kind "${rule.kind}"; kinds: ${Object.keys(FILE_RULE_KINDS).join(', ')}`);
  }
  if (rule.action !== 'ban' && rule.action !== 'allow') throw new Error(`rule action must be "ban" or "allow", not "${String(rule.action)}"`);
  let values = rule.values.map((v) => v.trim()).filter(Boolean);
  const bad = (v: string, what: string) => new Error(`rule ${rule.name}: "${v}" is not ${what}`);
  switch (rule.kind) {
    case 'extension':
    case 'double-extension':
      values = values.map((v) => v.replace(/^\*?\./, '').toLowerCase());
      for (const v of values) if (!/^[\p{L}\p{N}_-]{1,10}$/u.test(v) && !(rule.kind === 'double-extension' && v === '*')) throw bad(v, 'an extension (like exe)');
      break;
    case 'disguised-name':
      if (values.length) throw new Error(`rule ${rule.name}: disguised-name takes no values`);
      break;
    case 'name':
      values = values.map((v) => v.toLowerCase());
      break;
    case 'declared-type':
      values = values.map((v) => v.toLowerCase());
      for (const v of values) if (!/^[a-z0-9*?][a-z0-9!#$&^_.+*?-]*\/[a-z0-9!#$&^_.+*?-]+$/.test(v)) throw bad(v, 'a MIME type pattern (like application/x-msdownload)');
      break;
    case 'detected-type': {
      values = values.map((v) => v.toLowerCase());
      const known = new Set<string>([...Object.keys(CONTENT_KINDS), ...CONTENT_FAMILIES, 'macros']);
      for (const v of values) if (!known.has(v)) throw bad(v, `a content kind or family (${[...known].join(', ')})`);
      break;
    }
    case 'archive':
      values = values.map((v) => v.toLowerCase());
      for (const v of values) if (!ARCHIVE_CONDITIONS.includes(v as ArchiveCondition)) throw bad(v, `an archive condition (${ARCHIVE_CONDITIONS.join(', ')})`);
      break;
  }
  if (rule.kind !== 'disguised-name' && values.length === 0) throw new Error(`rule ${rule.name}: a ${rule.kind} rule needs at least one value`);
  return { ...rule, values: [...new Set(values)], description: rule.description.trim() };
}
