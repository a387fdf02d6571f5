// The benchmark's corpus loader helpers, on synthetic input (the corpus itself is not needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gatewayView, parseMboxFromLine, stripMboxFromLine } from '../../bench/lib/corpus.ts';

test('mbox "From " line is split off and read', () => {
  const { raw, fromLine } = stripMboxFromLine(Buffer.from('From a@b.example  Thu Aug 22 13:17:22 2002\nSubject: x\n\nbody\n'));
  assert.equal(raw.toString(), 'Subject: x\n\nbody\n');
  assert.deepEqual(parseMboxFromLine(fromLine!), { sender: 'a@b.example', date: new Date('2002-08-22T13:17:22Z') });
  assert.equal(stripMboxFromLine(Buffer.from('Subject: x\n\nbody\n')).fromLine, null);
  assert.deepEqual(parseMboxFromLine('From a@b.example  Mon Sep  2 16:22:06 2002').date, new Date('2002-09-02T16:22:06Z'));
});

test("gateway view drops the collector's own hops and delivery headers, keeps the sender's", () => {
  const msg = [
    'Return-Path: <x@sender.example>',
    'Delivered-To: zzzz@localhost.example',
    'Received: from localhost (localhost [127.0.0.1])',
    '\tby phobos.labs.netnoteinc.com (Postfix) with ESMTP id 1; Thu, 22 Aug 2002 08:17:21 -0400 (EDT)',
    'Received: from phobos [127.0.0.1] by localhost with IMAP (fetchmail-5.9.0); Thu, 22 Aug 2002 13:17:21 +0100 (IST)',
    'Received: from mail.sender.example (mail.sender.example [192.0.2.10]) by',
    '    dogma.slashnull.org (8.11.6/8.11.6) with ESMTP id g7; Thu, 22 Aug 2002 13:09:41 +0100',
    'Received: from client (client [10.1.1.1]) by mail.sender.example; Thu, 22 Aug 2002 13:09:00 +0100',
    'From: x@sender.example',
    'X-Keywords: ',
    'Subject: hi',
    '',
    'body',
    '',
  ].join('\n');
  const v = gatewayView(Buffer.from(msg));
  assert.equal(v.helo, 'mail.sender.example');
  assert.equal(v.clientIp, '192.0.2.10');
  assert.deepEqual(v.receivedAt, new Date('2002-08-22T12:09:41Z'));
  assert.equal(v.hasTrace, true);
  assert.equal(
    v.raw.toString(),
    'Received: from client (client [10.1.1.1]) by mail.sender.example; Thu, 22 Aug 2002 13:09:00 +0100\nFrom: x@sender.example\nSubject: hi\n\nbody\n',
  );
  // A Message-ID the collector's MTA made up (named after its queue id) was not there when
  // the message reached the MX; one the sender wrote stays.
  const madeUp = gatewayView(
    Buffer.from(
      'Received: from mail.sender.example (mail.sender.example [192.0.2.10])\n\tby dogma.slashnull.org (8.11.6/8.11.6) with ESMTP id g8E3doE9024041; Thu, 22 Aug 2002 13:09:41 +0100\n' +
        'Message-Id: <200209140339.g8E3doE9024041@dogma.slashnull.org>\nFrom: x@sender.example\n\nbody\n',
    ),
  );
  assert.equal(madeUp.raw.toString(), 'From: x@sender.example\n\nbody\n');
  const own = gatewayView(
    Buffer.from(
      'Received: from mail.sender.example (mail.sender.example [192.0.2.10])\n\tby dogma.slashnull.org (8.11.6/8.11.6) with ESMTP id g8E3doE9024041; Thu, 22 Aug 2002 13:09:41 +0100\n' +
        'Message-Id: <20020822.abc@sender.example>\nFrom: x@sender.example\n\nbody\n',
    ),
  );
  assert.equal(own.raw.toString(), 'Message-Id: <20020822.abc@sender.example>\nFrom: x@sender.example\n\nbody\n');
  const none = gatewayView(Buffer.from('From: a@b.example\nSubject: s\n\nbody\n'));
  assert.equal(none.hasTrace, false);
  assert.equal(none.raw.toString(), 'From: a@b.example\nSubject: s\n\nbody\n');
});
