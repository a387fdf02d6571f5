// What a file really is, from its first bytes (magic numbers), whatever its name or
// declared MIME type say. Only the types that matter for banning or for looking inside
// are told apart; anything else is `null` (unknown, judged by its name alone).
//
// `family` groups kinds for rules: a rule may name either ("executable" bans PE, ELF,
// Mach-O and Java classes at once; "pe" only Windows programs).

export type ContentFamily = 'executable' | 'script' | 'shortcut' | 'archive' | 'disk-image' | 'document' | 'image';

export interface DetectedType {
  /** Short name used in rules: "pe", "elf", "zip", "ole"... */
  kind: string;
  family: ContentFamily;
  /** For reasons shown to admins: "a Windows executable". */
  description: string;
  /** Office document (OLE or OOXML) carrying a VBA macro project. */
  macros?: boolean;
}

/** Every kind `detectContent` can return, with its family and description (for CLI help and validation). */
export const CONTENT_KINDS: Record<string, { family: ContentFamily; description: string }> = {
  pe: { family: 'executable', description: 'a Windows executable' },
  dos: { family: 'executable', description: 'an MS-DOS executable' },
  elf: { family: 'executable', description: 'a Linux/Unix executable (ELF)' },
  macho: { family: 'executable', description: 'a macOS executable (Mach-O)' },
  'java-class': { family: 'executable', description: 'a compiled Java class' },
  script: { family: 'script', description: 'a script (#!)' },
  registry: { family: 'script', description: 'a Windows registry file' },
  lnk: { family: 'shortcut', description: 'a Windows shortcut (.lnk)' },
  zip: { family: 'archive', description: 'a zip archive' },
  jar: { family: 'archive', description: 'a Java archive (jar)' },
  rar: { family: 'archive', description: 'a RAR archive' },
  '7z': { family: 'archive', description: 'a 7-Zip archive' },
  gzip: { family: 'archive', description: 'a gzip file' },
  bzip2: { family: 'archive', description: 'a bzip2 file' },
  xz: { family: 'archive', description: 'an xz file' },
  cab: { family: 'archive', description: 'a Windows cabinet (.cab)' },
  iso: { family: 'disk-image', description: 'a CD/DVD image (ISO 9660 or UDF)' },
  'disk-image': { family: 'disk-image', description: 'a disk image (FAT/NTFS)' },
  vhd: { family: 'disk-image', description: 'a virtual hard disk (VHD/VHDX)' },
  ole: { family: 'document', description: 'an OLE compound file (Office 97-2003, MSI)' },
  msi: { family: 'executable', description: 'a Windows Installer package (MSI)' },
  ooxml: { family: 'document', description: 'an Office Open XML document' },
  odf: { family: 'document', description: 'an OpenDocument file' },
  pdf: { family: 'document', description: 'a PDF document' },
  rtf: { family: 'document', description: 'an RTF document' },
  html: { family: 'document', description: 'an HTML document' },
  png: { family: 'image', description: 'a PNG image' },
  jpeg: { family: 'image', description: 'a JPEG image' },
  gif: { family: 'image', description: 'a GIF image' },
};

export const CONTENT_FAMILIES: readonly ContentFamily[] = ['executable', 'script', 'shortcut', 'archive', 'disk-image', 'document', 'image'];

export function contentType(kind: string, extra: Partial<DetectedType> = {}): DetectedType {
  const k = CONTENT_KINDS[kind];
  if (!k) throw new Error(`unknown content kind ${kind}`);
  return { kind, family: k.family, description: k.description, ...extra };
}

const at = (buf: Uint8Array, offset: number, sig: string) => {
  if (buf.length < offset + sig.length) return false;
  for (let i = 0; i < sig.length; i++) if (buf[offset + i] !== sig.charCodeAt(i)) return false;
  return true;
};
const u32 = (b: Uint8Array, o: number) => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16)) + b[o + 3]! * 0x1000000;

/** The Windows Installer root storage CLSID {000C1084-0000-0000-C000-000000000046}, as stored. */
const MSI_CLSID = Buffer.from('84100c0000000000c000000000000046', 'hex');
/** "_VBA_PROJECT" as a UTF-16LE directory entry name: the stream every VBA project has. */
const VBA_PROJECT = Buffer.from('_VBA_PROJECT', 'utf16le');

/**
 * The type of `buf` from its magic bytes, or null. Zip files come back as "zip"; the
 * zip reader refines them to jar / ooxml / odf from their members (see inspect.ts).
 */
export function detectContent(data: Uint8Array): DetectedType | null {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length < 2) return null;
  if (at(buf, 0, 'MZ')) {
    // A PE file keeps "PE\0\0" where the DOS header's e_lfanew points; else a plain DOS program.
    if (buf.length >= 0x40) {
      const pe = u32(buf, 0x3c);
      if (pe + 4 <= buf.length && at(buf, pe, 'PE\0\0')) return contentType('pe');
    }
    return contentType('dos');
  }
  if (at(buf, 0, '\x7fELF')) return contentType('elf');
  if (buf.length >= 8) {
    const be = buf.readUInt32BE(0);
    if (be === 0xfeedface || be === 0xfeedfacf || be === 0xcefaedfe || be === 0xcffaedfe) return contentType('macho');
    if (be === 0xcafebabe) {
      // Shared by Java classes and universal Mach-O binaries: a fat binary holds a few
      // architectures where a class file has its version (45 and up) instead.
      return buf.readUInt32BE(4) < 40 ? contentType('macho') : contentType('java-class');
    }
  }
  if (at(buf, 0, '#!')) return contentType('script');
  if (at(buf, 0, 'L\0\0\0\x01\x14\x02\0')) return contentType('lnk');
  if (at(buf, 0, 'Windows Registry Editor') || at(buf, 0, 'REGEDIT4') || at(buf, 0, '\xff\xfeW\0i\0n\0d\0o\0w\0s\0 \0R\0e\0g\0')) {
    return contentType('registry');
  }
  if (at(buf, 0, '\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1')) {
    if (buf.indexOf(MSI_CLSID) >= 0) return contentType('msi');
    return contentType('ole', buf.indexOf(VBA_PROJECT) >= 0 ? { macros: true } : {});
  }
  if (at(buf, 0, 'PK\x03\x04') || at(buf, 0, 'PK\x05\x06')) return contentType('zip');
  if (at(buf, 0, 'Rar!\x1a\x07')) return contentType('rar');
  if (at(buf, 0, '7z\xbc\xaf\x27\x1c')) return contentType('7z');
  if (at(buf, 0, '\x1f\x8b')) return contentType('gzip');
  if (at(buf, 0, 'BZh')) return contentType('bzip2');
  if (at(buf, 0, '\xfd7zXZ\0')) return contentType('xz');
  if (at(buf, 0, 'MSCF\0\0\0\0')) return contentType('cab');
  if (at(buf, 0x8001, 'CD001') || at(buf, 0x8001, 'BEA01') || at(buf, 0x8801, 'CD001') || at(buf, 0x9001, 'CD001')) return contentType('iso');
  if (at(buf, 0, 'vhdxfile') || at(buf, 0, 'conectix') || (buf.length >= 512 && at(buf, buf.length - 512, 'conectix'))) return contentType('vhd');
  if (buf.length >= 512 && buf[510] === 0x55 && buf[511] === 0xaa && (at(buf, 3, 'NTFS    ') || at(buf, 54, 'FAT1') || at(buf, 82, 'FAT32'))) {
    return contentType('disk-image');
  }
  // PDF readers accept the header anywhere in the first KiB.
  if (buf.subarray(0, 1024).indexOf('%PDF-') >= 0) return contentType('pdf');
  if (at(buf, 0, '{\\rtf')) return contentType('rtf');
  if (at(buf, 0, '\x89PNG\r\n\x1a\n')) return contentType('png');
  if (at(buf, 0, '\xff\xd8\xff')) return contentType('jpeg');
  if (at(buf, 0, 'GIF87a') || at(buf, 0, 'GIF89a')) return contentType('gif');
  const head = buf.subarray(0, 512).toString('latin1').replace(/^\ufeff|^\xef\xbb\xbf/, '').trimStart().toLowerCase();
  if (head.startsWith('<!doctype html') || head.startsWith('<html') || /^<(?:head|body|script|meta)\b/.test(head)) return contentType('html');
  return null;
}
