import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { SignatureV4 } from '@smithy/signature-v4';
import { awsClientConfig } from '../aws';
import { startTestAws, type LocalAws } from '../local';
import { localAwsClients, receiveAll, topicWithQueue } from '../test-support/aws';
import { QuerySnsPublisher, SdkSnsPublisher, SnsError, correctedClockOffset, parsePublishBatchResponse, publishBatchBody, signedHeaders, type PublishEntry } from './snsPublish';

/** node:crypto as the SDK signer's hash (its Node default, minus the package) */
class Sha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret ? createHmac('sha256', bytes(secret)) : createHash('sha256');
  }
  update(data: string | ArrayBuffer | ArrayBufferView) {
    this.hash.update(bytes(data));
  }
  async digest() {
    return new Uint8Array(this.hash.digest());
  }
}

const bytes = (data: string | ArrayBuffer | ArrayBufferView) =>
  typeof data === 'string' ? data : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);

const awkward = 'línea 1\nlínea 2 — "comillas", <xml> & 100 % * (paréntesis) ! \'apóstrofo\' ~ 🏀 +=?/';
const entries: PublishEntry[] = Array.from({ length: 10 }, (_, i) => ({
  id: String(i),
  message: JSON.stringify({ n: i, text: awkward }),
  attributes: { type: i % 2 ? 'VoteCast' : 'VideoPublished', source: 'anb.voting', ...(i % 3 === 0 ? { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`, note: awkward } : {}) },
}));

/** What a client sent to a throwaway HTTP server that answers a PublishBatch with no entries. */
async function capture(send: (endpoint: string) => Promise<unknown>): Promise<{ body: string; headers: IncomingHttpHeaders }> {
  let seen: { body: string; headers: IncomingHttpHeaders } | undefined;
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      seen = { body, headers: req.headers };
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.end('<PublishBatchResponse><PublishBatchResult><Successful/><Failed/></PublishBatchResult></PublishBatchResponse>');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await send(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  assert.ok(seen, 'nothing arrived');
  return seen;
}

describe('the hand-written SNS PublishBatch', () => {
  test('sends exactly the parameters the AWS SDK sends for the same batch', async () => {
    const topicArn = 'arn:aws:sns:us-east-1:123456789012:anb-voting-events';
    const sdk = await capture(async (endpoint) => {
      const sns = new SNSClient({ ...awsClientConfig({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: endpoint }), maxAttempts: 1 });
      try {
        await new SdkSnsPublisher(sns).publishBatch(topicArn, entries);
      } finally {
        sns.destroy();
      }
    });
    const ours = publishBatchBody(topicArn, entries);
    // the same pairs, byte for byte (the order of parameters is free in a form)
    const pairs = (body: string) => body.split('&').sort();
    assert.deepEqual(pairs(ours), pairs(sdk.body));
  });

  test('signs as the AWS SDK signer does (SigV4), with and without a session token', async () => {
    const body = publishBatchBody('arn:aws:sns:eu-west-1:123456789012:topic', entries.slice(0, 3));
    const now = new Date('2026-11-25T23:59:58.123Z');
    for (const credentials of [
      { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
      { accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'secret/with+symbols', sessionToken: 'FwoGZXIvYXdzEJr//////////session+token=' },
    ]) {
      for (const host of ['sns.eu-west-1.amazonaws.com', '127.0.0.1:4566']) {
        const ours = signedHeaders({ host, path: '/', region: 'eu-west-1', body, now, credentials, signingKeys: new Map() });
        const signer = new SignatureV4({ service: 'sns', region: 'eu-west-1', credentials, sha256: Sha256, uriEscapePath: true, applyChecksum: false });
        const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', host };
        const signed = await signer.sign(
          { method: 'POST', protocol: 'https:', hostname: host.split(':')[0]!, path: '/', headers, body, query: {} },
          { signingDate: now },
        );
        assert.equal(ours.authorization, signed.headers.authorization, `${host} ${credentials.accessKeyId}`);
        assert.equal(ours['x-amz-date'], signed.headers['x-amz-date']);
        assert.equal(ours['x-amz-security-token'], signed.headers['x-amz-security-token']);
      }
    }
  });

  test('reads an answer laid out as AWS lays it out, failures and escapes included', () => {
    const xml = `<?xml version="1.0"?>
<PublishBatchResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <PublishBatchResult>
    <Successful>
      <member>
        <MessageId>0b0f8f9e-1</MessageId>
        <Id>0</Id>
      </member>
      <member><Id>2</Id><MessageId>0b0f8f9e-2</MessageId></member>
    </Successful>
    <Failed>
      <member>
        <Id>1</Id>
        <Code>InvalidParameter</Code>
        <Message>Invalid parameter: &lt;Message&gt; too &quot;long&quot; &amp; &#233;</Message>
        <SenderFault>true</SenderFault>
      </member>
    </Failed>
  </PublishBatchResult>
  <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>
</PublishBatchResponse>`;
    assert.deepEqual(parsePublishBatchResponse(xml), {
      successful: [
        { id: '0', messageId: '0b0f8f9e-1' },
        { id: '2', messageId: '0b0f8f9e-2' },
      ],
      failed: [{ id: '1', code: 'InvalidParameter', message: 'Invalid parameter: <Message> too "long" & é', senderFault: true }],
    });
    assert.throws(() => parsePublishBatchResponse('<html>proxy error</html>'), SnsError);
  });

  describe('against the local AWS', () => {
    let aws: LocalAws & { prefix: string };
    let clients: ReturnType<typeof localAwsClients>;
    let sns: SNSClient;
    let sqs: SQSClient;
    let publisher: QuerySnsPublisher;
    before(async () => {
      aws = await startTestAws();
      clients = localAwsClients(aws.endpoint);
      ({ sns, sqs } = clients);
      publisher = new QuerySnsPublisher(sns);
    });
    after(async () => {
      await publisher?.close();
      clients?.destroy();
      await aws?.stop();
    });

    test('every message and attribute arrives exactly in the subscribed queue; ids and message ids come back', async () => {
      const { topicArn, queueUrl } = await topicWithQueue(sns, sqs, `${aws.prefix}-lean`);
      const out = await publisher.publishBatch(topicArn, entries);
      assert.deepEqual(out.failed, []);
      assert.deepEqual(out.successful.map((s) => s.id).sort(), entries.map((e) => e.id).sort());
      assert.ok(out.successful.every((s) => /^[\w-]{20,}$/.test(s.messageId)));
      const messages = await receiveAll(sqs, queueUrl, 10);
      assert.equal(messages.length, 10);
      const byN = new Map(messages.map((m) => [(JSON.parse(m.Body!) as { n: number }).n, m]));
      for (const entry of entries) {
        const message = byN.get(Number(entry.id));
        assert.equal(message?.Body, entry.message);
        assert.deepEqual(Object.fromEntries(Object.entries(message?.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue])), entry.attributes);
      }
    });

    test('pipelined calls (as the local stack sends them to moto) all arrive, each answered with its own ids', async () => {
      const { topicArn, queueUrl } = await topicWithQueue(sns, sqs, `${aws.prefix}-piped`);
      const piped = new QuerySnsPublisher(sns, { pipelining: 4 });
      try {
        const calls = Array.from({ length: 8 }, (_, call) => entries.map((e) => ({ ...e, id: `${call}-${e.id}`, message: JSON.stringify({ n: call * 10 + Number(e.id) }) })));
        const results = await Promise.all(calls.map((batch) => piped.publishBatch(topicArn, batch)));
        results.forEach((out, call) => {
          assert.deepEqual(out.failed, []);
          assert.deepEqual(out.successful.map((s) => s.id).sort(), calls[call]!.map((e) => e.id).sort());
        });
        const messages = await receiveAll(sqs, queueUrl, 80);
        assert.deepEqual(messages.map((m) => (JSON.parse(m.Body!) as { n: number }).n).sort((a, b) => a - b), Array.from({ length: 80 }, (_, i) => i));
      } finally {
        await piped.close();
      }
    });

    test("a call SNS refuses is an SnsError with SNS's code, and nothing is published", async () => {
      const missing = `arn:aws:sns:us-east-1:123456789012:${aws.prefix}-no-such-topic`;
      await assert.rejects(publisher.publishBatch(missing, entries.slice(0, 1)), (error: unknown) => {
        assert.ok(error instanceof SnsError, String(error));
        assert.equal(error.code, 'NotFound');
        return true;
      });
    });
  });

  test('a clock an hour off SNS is corrected from the Date of its answer: the refused call is signed again and sent once more, later calls are right at once', async () => {
    const serverAheadMs = 60 * 60_000;
    const seen: { status: number; skewMs: number }[] = [];
    let refuseAlways = false;
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const serverNow = Date.now() + (refuseAlways ? 0 : serverAheadMs);
        const d = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(String(req.headers['x-amz-date']))!;
        const signedAt = Date.UTC(+d[1]!, +d[2]! - 1, +d[3]!, +d[4]!, +d[5]!, +d[6]!);
        const skewMs = signedAt - serverNow;
        const refused = refuseAlways || Math.abs(skewMs) > 5 * 60_000;
        seen.push({ status: refused ? 403 : 200, skewMs });
        res.writeHead(refused ? 403 : 200, { 'content-type': 'text/xml', date: new Date(serverNow).toUTCString() });
        res.end(
          refused
            ? '<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>Signature expired</Message></Error></ErrorResponse>'
            : '<PublishBatchResponse><PublishBatchResult><Successful><member><Id>0</Id><MessageId>m-0</MessageId></member></Successful><Failed/></PublishBatchResult></PublishBatchResponse>',
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const publisher = new QuerySnsPublisher({
      endpoint: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`),
      region: 'us-east-1',
      credentials: async () => ({ accessKeyId: 'local', secretAccessKey: 'local' }),
    });
    try {
      const one = entries.slice(0, 1);
      const ok = { successful: [{ id: '0', messageId: 'm-0' }], failed: [] };
      assert.deepEqual(await publisher.publishBatch('arn:aws:sns:us-east-1:1:t', one), ok);
      assert.deepEqual(seen.map((s) => s.status), [403, 200]);
      assert.ok(Math.abs(seen[1]!.skewMs) < 5000, `signed ${seen[1]!.skewMs} ms off after the correction`);
      assert.deepEqual(await publisher.publishBatch('arn:aws:sns:us-east-1:1:t', one), ok);
      assert.deepEqual(seen.map((s) => s.status), [403, 200, 200]);
      // refused for its time although the clocks agree: nothing to correct, so no second try
      refuseAlways = true;
      await assert.rejects(publisher.publishBatch('arn:aws:sns:us-east-1:1:t', one), (e: unknown) => e instanceof SnsError && e.code === 'SignatureDoesNotMatch');
      assert.equal(seen.length, 5);
    } finally {
      await publisher.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('with pipelining, calls in flight go out on one connection without waiting for each answer, and each gets its own answer', async () => {
    for (const pipelining of [1, 4]) {
      const sockets = new Set<unknown>();
      const held: (() => void)[] = [];
      const server = createServer((req, res) => {
        sockets.add(req.socket);
        let body = '';
        req.setEncoding('utf8');
        req.on('data', (chunk: string) => (body += chunk));
        req.on('end', () => {
          const ids = [...body.matchAll(/\.Id=([^&]*)/g)].map((m) => decodeURIComponent(m[1]!));
          const answer = () => {
            res.writeHead(200, { 'content-type': 'text/xml' });
            res.end(
              `<PublishBatchResponse><PublishBatchResult><Successful>${ids.map((id) => `<member><Id>${id}</Id><MessageId>m-${id}</MessageId></member>`).join('')}</Successful><Failed/></PublishBatchResult></PublishBatchResponse>`,
            );
          };
          // nothing is answered until all four calls have arrived: only pipelining gets them onto one connection
          held.push(answer);
          if (held.length === 4) for (const release of held) release();
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const publisher = new QuerySnsPublisher(
        { endpoint: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`), region: 'us-east-1', credentials: async () => ({ accessKeyId: 'local', secretAccessKey: 'local' }) },
        { pipelining },
      );
      try {
        const calls = Array.from({ length: 4 }, (_, call) => entries.slice(0, 3).map((e) => ({ ...e, id: `${call}-${e.id}` })));
        const results = await Promise.all(calls.map((batch) => publisher.publishBatch('arn:aws:sns:us-east-1:1:t', batch)));
        results.forEach((out, call) => assert.deepEqual(out.successful, calls[call]!.map((e) => ({ id: e.id, messageId: `m-${e.id}` }))));
        assert.equal(sockets.size, pipelining === 1 ? 4 : 1, `pipelining ${pipelining}`);
      } finally {
        await publisher.close();
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    }
  });

  test('the clock offset follows the SDK rule: kept within five minutes of the server, else the server time minus ours', () => {
    const now = Date.UTC(2026, 10, 26, 12, 0, 0);
    const at = (ms: number) => new Date(ms).toUTCString();
    assert.equal(correctedClockOffset(at(now + 4 * 60_000), 0, now), 0);
    assert.equal(correctedClockOffset(at(now + 6 * 60_000), 0, now), 6 * 60_000);
    assert.equal(correctedClockOffset(at(now - 3_600_000), 0, now), -3_600_000);
    assert.equal(correctedClockOffset(at(now + 3_600_000), 3_600_000, now), 3_600_000);
    // back in step: the offset goes back to zero once it is itself five minutes wrong
    assert.equal(correctedClockOffset(at(now), 3_600_000, now), 0);
    assert.equal(correctedClockOffset(undefined, 42, now), 42);
    assert.equal(correctedClockOffset('not a date', 42, now), 42);
  });

  test('a connection that breaks under the call is replaced and the call sent once more; a dead endpoint fails', async () => {
    let connections = 0;
    const answer = '<PublishBatchResponse><PublishBatchResult><Successful><member><Id>0</Id><MessageId>m-0</MessageId></member></Successful><Failed></Failed></PublishBatchResult></PublishBatchResponse>';
    const server = createTcpServer((socket) => {
      const n = ++connections;
      let request = '';
      socket.on('data', (chunk) => {
        request += chunk.toString();
        const head = request.indexOf('\r\n\r\n');
        if (head < 0) return;
        const length = Number(/content-length: (\d+)/i.exec(request.slice(0, head))?.[1] ?? 0);
        if (request.length - head - 4 < length) return;
        // the first connection goes away without an answer, as a server closing an idle connection would
        if (n === 1) socket.destroy();
        else socket.end(`HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\ncontent-length: ${Buffer.byteLength(answer)}\r\nconnection: close\r\n\r\n${answer}`);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const target = (port: number) => ({
      endpoint: new URL(`http://127.0.0.1:${port}/`),
      region: 'us-east-1',
      credentials: async () => ({ accessKeyId: 'local', secretAccessKey: 'local' }),
    });
    const flaky = new QuerySnsPublisher(target((server.address() as AddressInfo).port));
    const dead = new QuerySnsPublisher(target(9));
    try {
      assert.deepEqual(await flaky.publishBatch('arn:aws:sns:us-east-1:1:t', entries.slice(0, 1)), { successful: [{ id: '0', messageId: 'm-0' }], failed: [] });
      assert.equal(connections, 2);
      await assert.rejects(dead.publishBatch('arn:aws:sns:us-east-1:1:t', entries.slice(0, 1)));
    } finally {
      await Promise.all([flaky.close(), dead.close()]);
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
