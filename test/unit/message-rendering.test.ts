// The quarantine's rendering of a held message: hostile HTML comes out inert.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderMessage } from '../../src/services/message-rendering.ts';

const hostile = Buffer.from(
  [
    'From: "<img src=x onerror=alert(1)>" <evil@attacker.example>',
    'To: bob@a.test',
    'Subject: <script>alert("subject")</script>',
    'MIME-Version: 1.0',
    'Content-Type: text/html; charset=utf-8',
    '',
    '<html><head><style>body{background:url(https://track.example/css.png)}</style><link rel="stylesheet" href="https://track.example/x.css"></head>',
    '<body onload="alert(1)"><script>alert(2)</script><p style="background:url(https://track.example/s.png)" onclick="alert(3)">Hi</p>',
    '<a href="javascript:alert(4)">click</a> <a href="https://ok.example/">ok</a>',
    '<img src="https://track.example/pixel.gif" alt="logo" onerror="alert(5)"><img src="//track.example/p2.gif">',
    '<form action="https://phish.example/"><input name="pw"></form><iframe src="https://x.example/"></iframe>',
    '<svg onload="alert(6)"><a xlink:href="javascript:alert(7)">x</a></svg><math><mi xlink:href="javascript:alert(8)">m</mi></math>',
    '</body></html>',
    '',
  ].join('\r\n'),
);

test('hostile HTML is rendered inert: no script, handlers, forms, javascript: links, styles; remote images blocked', async () => {
  const r = await renderMessage(hostile);
  assert.equal(r.kind, 'html');
  const html = r.html!;
  assert.doesNotMatch(html, /<script/i);
  assert.doesNotMatch(html, /\son[a-z]+\s*=/i);
  assert.doesNotMatch(html, /javascript:/i);
  assert.doesNotMatch(html, /<(form|input|iframe|svg|math|style|link)\b/i);
  assert.doesNotMatch(html, /style=/i);
  assert.doesNotMatch(html, /track\.example/);
  assert.equal(r.blockedRemote, 2);
  assert.match(html, /\[image blocked: logo\]/);
  assert.match(html, /<a href="https:\/\/ok\.example\/" rel="noopener noreferrer nofollow" target="_blank">ok<\/a>/);
  assert.match(html, /<p>Hi<\/p>/);
});

test('remote images come back only when asked for', async () => {
  const r = await renderMessage(hostile, { allowRemote: true });
  assert.equal(r.blockedRemote, 0);
  assert.match(r.html!, /<img src="https:\/\/track\.example\/pixel\.gif" alt="logo" \/>/);
  assert.doesNotMatch(r.html!, /onerror|<script|javascript:/i);
});

test('a text message is returned as text', async () => {
  const r = await renderMessage(Buffer.from('Subject: hi\r\nContent-Type: text/plain\r\n\r\n<b>not html</b>\r\n'));
  assert.equal(r.kind, 'text');
  assert.equal(r.html, null);
  assert.match(r.text, /<b>not html<\/b>/);
});
