import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isRemoteInput, mediaInput, redactUrl, redactUrlsInText } from './input';

test('a path becomes a file: URL with a file-only protocol whitelist', () => {
  assert.deepEqual(mediaInput('/tmp/job/-odd:name.mp4'), {
    kind: 'file',
    target: 'file:/tmp/job/-odd:name.mp4',
    options: ['-protocol_whitelist', 'file'],
    label: '/tmp/job/-odd:name.mp4',
  });
  assert.equal(mediaInput('file:/tmp/a.mp4').target, 'file:/tmp/a.mp4');
});

test('an http(s) URL gets a network whitelist, an I/O timeout and a redacted label', () => {
  const url = 'https://bucket.s3.amazonaws.com/originals/v.mp4?X-Amz-Signature=abc&X-Amz-Credential=def';
  const input = mediaInput(url, { ioTimeoutMs: 5000 });
  assert.equal(input.kind, 'url');
  assert.equal(input.target, url);
  assert.deepEqual(input.options, ['-protocol_whitelist', 'http,https,tcp,tls', '-rw_timeout', '5000000']);
  assert.equal(input.label, 'https://bucket.s3.amazonaws.com/originals/v.mp4?…');
  assert.deepEqual(mediaInput(url, { reconnect: true }).options.slice(4), ['-reconnect', '1', '-reconnect_delay_max', '5']);
  assert.equal(isRemoteInput('HTTP://x/y'), true);
  assert.equal(isRemoteInput('/srv/http://x'), false);
});

test('redaction drops credentials and query strings', () => {
  assert.equal(redactUrl('http://user:pw@host:9000/a/b.mp4'), 'http://host:9000/a/b.mp4');
  assert.equal(
    redactUrlsInText("[http @ 0x1] HTTP error 403 Forbidden: 'https://h/o.mp4?X-Amz-Signature=s' failed"),
    "[http @ 0x1] HTTP error 403 Forbidden: 'https://h/o.mp4?…' failed",
  );
  assert.equal(redactUrlsInText('https://h/o.mp4: Connection refused'), 'https://h/o.mp4: Connection refused');
});
