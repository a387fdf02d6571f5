// The rule set every install starts with, named "default": what Hermes's default File
// Rules block. Programs, scripts, installers, shortcuts and disk images are refused
// by name, by declared type and by content, so renaming setup.exe to invoice.pdf or
// hiding it behind a second extension does not get it through. Office macros and
// archives that cannot be looked into are left to admins (see `hermes filerules add`).
import type { FileRuleSet } from './rules.ts';

export const DEFAULT_RULE_SET_NAME = 'default';

/** Extensions Windows runs or mounts on a double click. */
export const EXECUTABLE_EXTENSIONS = [
  'exe', 'scr', 'com', 'pif', 'bat', 'cmd', 'cpl', 'vbs', 'vbe', 'js', 'jse', 'wsf', 'wsh', 'hta',
  'msi', 'msp', 'lnk', 'scf', 'reg', 'iso', 'img', 'vhd', 'vhdx', 'ps1', 'psm1', 'jar', 'appx', 'msix',
];

export const DEFAULT_FILE_RULE_SET: FileRuleSet = {
  name: DEFAULT_RULE_SET_NAME,
  description: 'Hermes defaults: programs, scripts, installers, shortcuts and disk images, by name, type and content',
  rules: [
    {
      name: 'disguised-name',
      kind: 'disguised-name',
      values: [],
      action: 'ban',
      inArchives: true,
      description: 'names that hide their real extension from the reader',
    },
    {
      name: 'double-extension',
      kind: 'double-extension',
      values: EXECUTABLE_EXTENSIONS,
      action: 'ban',
      inArchives: true,
      description: 'a harmless-looking extension in front of an executable one (invoice.pdf.exe)',
    },
    {
      name: 'executable-extension',
      kind: 'extension',
      values: EXECUTABLE_EXTENSIONS,
      action: 'ban',
      inArchives: true,
      description: 'programs, scripts, installers, shortcuts and disk images by name',
    },
    {
      name: 'executable-content',
      kind: 'detected-type',
      values: ['executable', 'script', 'shortcut', 'disk-image', 'jar'],
      action: 'ban',
      inArchives: true,
      description: 'programs, scripts, shortcuts and disk images by content, whatever the name says',
    },
    {
      name: 'executable-declared',
      kind: 'declared-type',
      values: [
        'application/x-msdownload',
        'application/x-msdos-program',
        'application/x-dosexec',
        'application/x-executable',
        'application/x-msi',
        'application/x-ms-installer',
        'application/x-ms-shortcut',
        'application/hta',
        'application/x-sh',
        'application/x-bat',
        'application/java-archive',
        'application/x-iso9660-image',
        'application/vnd.microsoft.portable-executable',
      ],
      action: 'ban',
      inArchives: true,
      description: 'programs and scripts by the MIME type the sender declared',
    },
  ],
};
