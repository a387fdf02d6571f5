// Every file a message carries, once: its attachments, the files inside attached
// messages (forwarded mail) and inside zip archives (two levels deep), each with its
// name, declared MIME type and real type from its content. The attachment rules and
// the built-in malware check both read this one inspection, so each message is
// decoded and each archive inflated only once.
import PostalMime, { type Attachment, type Email } from '../../mime/postal-mime.ts';
import { detectContent, contentType, type DetectedType } from './magic.ts';
import { baseName } from './file-names.ts';
import { listZip, readZipEntry, type InflateBudget } from './zip.ts';
import { isEicarTestFile } from '../malware/eicar.ts';

/** Why (part of) an archive or attached message could not be looked into. */
export type ArchiveCondition = 'encrypted' | 'corrupt' | 'unsupported' | 'too-large' | 'too-many' | 'too-deep';
export const ARCHIVE_CONDITIONS: readonly ArchiveCondition[] = ['encrypted', 'corrupt', 'unsupported', 'too-large', 'too-many', 'too-deep'];

export interface InspectedFile {
  /** Where it is, for people: "invoice.pdf", "docs.zip/setup.exe", "fwd.eml/report.doc". */
  path: string;
  /** Its own file name ("" when the part has none). */
  name: string;
  /** MIME type given by the sender (attachments only; null inside archives). */
  declaredType: string | null;
  size: number;
  /** Type from the content (magic bytes), null when unknown or unreadable. */
  detected: DetectedType | null;
  /** The archive or attached message it came out of, or null for the message's own attachments. */
  container: string | null;
  /** For an archive: what stopped a full look inside it. */
  conditions: ArchiveCondition[];
}

export interface MessageInspection {
  files: InspectedFile[];
  /** Where the EICAR test file is: file paths, or "message body". */
  eicar: string[];
}

export interface InspectLimits {
  /** Zip levels opened: 2 = a zip inside a zip is opened, one inside that is not. */
  archiveDepth: number;
  /** Attached messages opened inside attached messages. */
  messageDepth: number;
  /** Largest archive member inflated. */
  maxMemberBytes: number;
  /** All members of one message together. */
  maxInflateBytes: number;
  /** Archive members listed per message. */
  maxMembers: number;
}

export const DEFAULT_INSPECT_LIMITS: InspectLimits = {
  archiveDepth: 2,
  messageDepth: 3,
  maxMemberBytes: 32 * 1024 * 1024,
  maxInflateBytes: 64 * 1024 * 1024,
  maxMembers: 2000,
};

interface Walk {
  limits: InspectLimits;
  budget: InflateBudget;
  members: number;
  out: MessageInspection;
}

export async function inspectEmail(email: Email, limits: InspectLimits = DEFAULT_INSPECT_LIMITS): Promise<MessageInspection> {
  const walk: Walk = { limits, budget: { remaining: limits.maxInflateBytes }, members: 0, out: { files: [], eicar: [] } };
  await inspectParts(walk, email, null, 0);
  return walk.out;
}

async function inspectParts(walk: Walk, email: Email, container: string | null, messageDepth: number): Promise<void> {
  const prefix = container ? `${container}/` : '';
  if (email.text && isEicarTestFile(email.text)) walk.out.eicar.push(`${prefix}message body`);
  let unnamed = 0;
  for (const a of email.attachments) {
    const content = bytesOf(a);
    const name = (a.filename ?? '').trim();
    const file: InspectedFile = {
      path: prefix + (name || `(unnamed ${a.mimeType} part ${++unnamed})`),
      name,
      declaredType: a.mimeType.toLowerCase(),
      size: content.length,
      detected: detectContent(content),
      container,
      conditions: [],
    };
    walk.out.files.push(file);
    if (isEicarTestFile(content)) walk.out.eicar.push(file.path);
    if (file.detected?.kind === 'zip') await openZip(walk, file, content, 1);
    else if (file.declaredType === 'message/rfc822' || a.rfc822DepthExceeded) await openMessage(walk, file, content, messageDepth + 1);
  }
}

async function openMessage(walk: Walk, file: InspectedFile, content: Buffer, depth: number): Promise<void> {
  if (depth > walk.limits.messageDepth) {
    file.conditions.push('too-deep');
    return;
  }
  let inner: Email;
  try {
    inner = await PostalMime.parse(content);
  } catch {
    file.conditions.push('corrupt');
    return;
  }
  await inspectParts(walk, inner, file.path, depth);
}

/** Zip-based formats whose members are the document's own parts, not files for the reader. */
function refineZip(names: Set<string>, list: string[]): DetectedType | null {
  if (names.has('[content_types].xml')) {
    return contentType('ooxml', list.some((n) => n.endsWith('vbaproject.bin')) ? { macros: true } : {});
  }
  if (names.has('mimetype') && list.some((n) => n === 'content.xml' || n === 'meta-inf/manifest.xml')) return contentType('odf');
  if (names.has('meta-inf/manifest.mf')) return contentType('jar');
  return null;
}

async function openZip(walk: Walk, archive: InspectedFile, content: Buffer, depth: number): Promise<void> {
  const { limits } = walk;
  const listing = listZip(content, Math.max(1, limits.maxMembers - walk.members));
  if (!listing) {
    archive.conditions.push('corrupt');
    return;
  }
  const add = (c: ArchiveCondition) => {
    if (!archive.conditions.includes(c)) archive.conditions.push(c);
  };
  if (listing.corrupt) add('corrupt');
  if (listing.truncated) add('too-many');
  const lower = listing.entries.map((e) => e.name.toLowerCase());
  const refined = refineZip(new Set(lower), lower);
  if (refined) {
    archive.detected = refined;
    return;
  }
  for (const entry of listing.entries) {
    if (entry.isDirectory) continue;
    walk.members++;
    const member: InspectedFile = {
      path: `${archive.path}/${entry.name}`,
      name: baseName(entry.name),
      declaredType: null,
      size: Math.max(0, entry.size),
      detected: null,
      container: archive.path,
      conditions: [],
    };
    walk.out.files.push(member);
    const data = await readZipEntry(content, entry, limits.maxMemberBytes, walk.budget);
    if (typeof data === 'string') {
      add(data);
      continue;
    }
    member.size = data.length;
    member.detected = detectContent(data);
    if (isEicarTestFile(data)) walk.out.eicar.push(member.path);
    if (member.detected?.kind === 'zip') {
      if (depth < limits.archiveDepth) await openZip(walk, member, data, depth + 1);
      else {
        member.conditions.push('too-deep');
        add('too-deep');
      }
    }
  }
}

function bytesOf(a: Attachment): Buffer {
  const c = a.content;
  if (typeof c === 'string') return Buffer.from(c, a.encoding === 'base64' ? 'base64' : 'utf8');
  if (c instanceof ArrayBuffer) return Buffer.from(c);
  return Buffer.from(c.buffer, c.byteOffset, c.byteLength);
}
