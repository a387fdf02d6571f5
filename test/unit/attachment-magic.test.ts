// Telling what a file really is from its bytes, and reading names as Windows does:
// what lets the attachment rules catch an executable whatever it is called.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectContent } from '../../src/pipeline/filter/attachments/magic.ts';
import { disguisedName, doubleExtension, extensionsOf, lastExtension } from '../../src/pipeline/filter/attachments/file-names.ts';
import { makeZip, peExecutable } from '../helpers/attachments.ts';

const kind = (b: Buffer | string) => detectContent(typeof b === 'string' ? Buffer.from(b, 'latin1') : b)?.kind ?? null;

test('magic: programs of every platform are recognised by content', () => {
  assert.equal(kind(peExecutable()), 'pe');
  assert.equal(detectContent(peExecutable())?.description, 'a Windows executable');
  assert.equal(kind(Buffer.concat([Buffer.from('MZ'), Buffer.alloc(100)])), 'dos', 'MZ without a PE header is a DOS program');
  // A truncated or lying e_lfanew must not be read out of bounds.
  const lying = peExecutable(0);
  lying.writeUInt32LE(0xfffffff0, 0x3c);
  assert.equal(kind(lying), 'dos');
  assert.equal(kind('\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0'), 'elf');
  assert.equal(kind(Buffer.from('cffaedfe07000001030000000000000000', 'hex')), 'macho');
  assert.equal(kind(Buffer.from('cafebabe0000000201000007', 'hex')), 'macho', 'universal binary with 2 architectures');
  assert.equal(kind(Buffer.from('cafebabe00000034', 'hex')), 'java-class', 'class file version 52');
  assert.equal(detectContent(Buffer.from('\x7fELF\x02\x01', 'latin1'))?.family, 'executable');
});

test('magic: scripts, shortcuts, registry files, installers and Office macros', () => {
  assert.equal(kind('#!/bin/sh\nrm -rf ~\n'), 'script');
  assert.equal(kind(Buffer.concat([Buffer.from('4c0000000114020000000000c000000000000046', 'hex'), Buffer.alloc(60)])), 'lnk');
  assert.equal(kind('Windows Registry Editor Version 5.00\r\n'), 'registry');
  const ole = Buffer.alloc(4096);
  Buffer.from('d0cf11e0a1b11ae1', 'hex').copy(ole);
  assert.equal(detectContent(ole)?.kind, 'ole');
  assert.equal(detectContent(ole)?.macros, undefined, 'a plain .doc has no macros');
  Buffer.from('_VBA_PROJECT', 'utf16le').copy(ole, 1024);
  assert.equal(detectContent(ole)?.macros, true, 'a .doc with a VBA project has macros');
  const msi = Buffer.alloc(4096);
  Buffer.from('d0cf11e0a1b11ae1', 'hex').copy(msi);
  Buffer.from('84100c0000000000c000000000000046', 'hex').copy(msi, 2048);
  assert.equal(kind(msi), 'msi');
  assert.equal(detectContent(msi)?.family, 'executable');
});

test('magic: archives, disk images and common documents', () => {
  assert.equal(kind(makeZip([{ name: 'a.txt', data: 'hello' }])), 'zip');
  assert.equal(kind('Rar!\x1a\x07\x01\0'), 'rar');
  assert.equal(kind('7z\xbc\xaf\x27\x1c\0\x04'), '7z');
  assert.equal(kind('\x1f\x8b\x08\0'), 'gzip');
  const iso = Buffer.alloc(0x8800);
  iso.write('\x01CD001\x01', 0x8000, 'latin1');
  assert.equal(kind(iso), 'iso');
  assert.equal(detectContent(iso)?.family, 'disk-image');
  const fat = Buffer.alloc(1024);
  fat.write('FAT12   ', 54, 'latin1');
  fat[510] = 0x55;
  fat[511] = 0xaa;
  assert.equal(kind(fat), 'disk-image');
  assert.equal(kind('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n'), 'pdf');
  assert.equal(kind('\x89PNG\r\n\x1a\n\0\0\0\rIHDR'), 'png');
  assert.equal(kind('\xff\xd8\xff\xe0\0\x10JFIF'), 'jpeg');
  assert.equal(kind('<!DOCTYPE html><html><body>hi</body></html>'), 'html');
  assert.equal(kind('Dear customer, your invoice is attached.'), null, 'plain text is unknown, judged by name only');
  assert.equal(kind(''), null);
  assert.equal(kind('M'), null);
});

test('names: extensions are read as Windows reads them', () => {
  assert.deepEqual(extensionsOf('Invoice.PDF.exe'), ['pdf', 'exe']);
  assert.equal(lastExtension('evil.exe.'), 'exe', 'trailing dots are dropped by Windows');
  assert.equal(lastExtension('evil.exe   '), 'exe', 'trailing spaces too');
  assert.equal(lastExtension('folder/sub/setup.EXE'), 'exe', 'members of archives are judged by their base name');
  assert.equal(lastExtension('.exe'), 'exe', 'a name that is only an extension still runs as one');
  assert.equal(lastExtension('README'), null);
  assert.equal(lastExtension('report.pdf'), 'pdf');
});

test('names: double extensions, but not versions, dates or ordinary dotted names', () => {
  assert.deepEqual(doubleExtension('invoice.pdf.exe'), { inner: 'pdf', outer: 'exe' });
  assert.deepEqual(doubleExtension('photo.JPG.scr'), { inner: 'jpg', outer: 'scr' });
  assert.deepEqual(doubleExtension('scan.pdf   .exe'), { inner: 'pdf', outer: 'exe' });
  assert.equal(doubleExtension('setup-2.1.exe'), null, 'version numbers are not extensions');
  assert.equal(doubleExtension('report.2024.pdf'), null, 'nor are years');
  assert.equal(doubleExtension('invoice.pdf'), null);
  assert.deepEqual(doubleExtension('backup.tar.gz'), { inner: 'tar', outer: 'gz' }, 'seen as double; the rules decide which outer ones matter');
});

test('names: right-to-left override and padding that hide the real extension', () => {
  // Displayed as "invoiceexe.pdf", it is an .exe.
  const rtlo = 'invoice\u202Efdp.exe';
  assert.equal(lastExtension(rtlo), 'exe');
  assert.match(disguisedName(rtlo) ?? '', /right-to-left/);
  assert.match(disguisedName('report.pdf                    .exe') ?? '', /pads/);
  assert.equal(disguisedName('annual report 2024.pdf'), null);
  assert.equal(disguisedName('my file.docx'), null);
});
