import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { LineTail, runTool, runningMediaProcesses } from './child';
import { FfmpegError, ProgressParser, ffmpegFeatures, runFfmpeg, type FfmpegProgress } from './ffmpeg';

/** An endless source: the run only ends when we end it. */
const endless = ['-re', '-f', 'lavfi', '-i', 'testsrc2=s=64x64:r=10', '-f', 'null', '-'];

after(() => {
  assert.equal(runningMediaProcesses(), 0, 'a media child process outlived its test');
});

describe('ProgressParser', () => {
  test('reports once per block, across chunk boundaries', () => {
    const parser = new ProgressParser();
    const block = (us: number, frame: number) =>
      `frame=${frame}\nfps=0.00\nbitrate=N/A\nout_time_us=${us}\nout_time_ms=${us}\nout_time=00:00:0${us / 1e6}00000\nspeed=2.5x\nprogress=continue\n`;
    const text = block(1_000_000, 30) + block(2_500_000, 75).replace('continue', 'end');
    const reports: FfmpegProgress[] = [];
    for (let i = 0; i < text.length; i += 7) reports.push(...parser.push(text.slice(i, i + 7)));
    assert.deepEqual(reports, [
      { outTimeSeconds: 1, speed: 2.5, frame: 30 },
      { outTimeSeconds: 2.5, speed: 2.5, frame: 75 },
    ]);
  });

  test('falls back to out_time and skips blocks without a usable time', () => {
    const parser = new ProgressParser();
    const reports = parser.push(
      'out_time_us=N/A\nout_time=N/A\nspeed=N/A\nprogress=continue\n' +
        'out_time=-577014:32:22.775808\nprogress=continue\n' +
        'out_time=00:01:02.500000\nspeed=N/A\nprogress=continue\n',
    );
    assert.deepEqual(reports, [{ outTimeSeconds: 62.5 }]);
  });
});

describe('LineTail', () => {
  test('keeps the last lines, joins split lines, drops blank ones, caps long ones', () => {
    const tail = new LineTail(3, 10);
    tail.push('one\ntw');
    tail.push('o\n\n\nthree\r\nfour');
    assert.deepEqual(tail.lines(), ['two', 'three', 'four']);
    tail.push('\n' + 'x'.repeat(25) + '\n');
    assert.deepEqual(tail.lines(), ['three', 'four', `${'x'.repeat(10)}…`]);
  });
});

describe('runTool', () => {
  test('escalates to SIGKILL when the child ignores SIGTERM', async () => {
    // a shell ignores SIGTERM from its first instruction (a Node child may still be starting, under load,
    // when the SIGTERM arrives — and then dies of it, which is not what this test is about)
    const started = Date.now();
    const run = await runTool('/bin/sh', ['-c', 'trap "" TERM; while :; do sleep 1; done'], { timeoutMs: 300, killGraceMs: 200 });
    assert.equal(run.stopped, 'timeout');
    assert.equal(run.signal, 'SIGKILL');
    assert.ok(Date.now() - started >= 450, 'SIGKILL came only after the grace period');
  });

  test('does not start a child when the signal is already aborted', async () => {
    const run = await runTool(process.execPath, ['-e', ''], { timeoutMs: 1000, signal: AbortSignal.abort() });
    assert.equal(run.stopped, 'aborted');
    assert.equal(run.code, null);
  });

  test('rejects when the binary does not exist', async () => {
    await assert.rejects(runTool('/nonexistent/ffmpeg', [], { timeoutMs: 1000 }), { code: 'ENOENT' });
  });
});

describe('runFfmpeg', () => {
  test('reports progress up to the end of the output', async () => {
    const reports: FfmpegProgress[] = [];
    await runFfmpeg(['-f', 'lavfi', '-i', 'testsrc2=s=64x64:r=10:d=2', '-f', 'null', '-'], {
      timeoutMs: 20_000,
      onProgress: (p) => reports.push(p),
    });
    assert.ok(reports.length >= 1);
    const last = reports.at(-1)!;
    assert.ok(Math.abs(last.outTimeSeconds - 2) < 0.2, `last progress at ${last.outTimeSeconds} s`);
    assert.equal(last.frame, 20);
  });

  test('a failure carries the exit code and a readable reason from stderr', async () => {
    const error = await runFfmpeg(['-i', 'file:/nonexistent/clip.mp4', '-f', 'null', '-'], { timeoutMs: 20_000 }).then(
      () => assert.fail('expected a failure'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof FfmpegError);
    assert.equal(error.reason, 'failed');
    assert.equal(error.exitCode, 1);
    assert.match(error.message, /^ffmpeg exited with code 1: .*No such file or directory/);
    assert.ok(error.stderrTail.length >= 1 && error.stderrTail.length <= 20);
  });

  test('an invalid filter graph is reported, not hidden', async () => {
    await assert.rejects(runFfmpeg(['-f', 'lavfi', '-i', 'testsrc2=d=1', '-vf', 'nosuchfilter', '-f', 'null', '-'], { timeoutMs: 20_000 }), (e: unknown) => {
      assert.ok(e instanceof FfmpegError);
      assert.match(e.stderrTail.join('\n'), /nosuchfilter/i);
      return true;
    });
  });

  test('abort stops ffmpeg and leaves no process behind', async () => {
    const controller = new AbortController();
    const failed = runFfmpeg(endless, {
      timeoutMs: 60_000,
      signal: controller.signal,
      // abort as soon as it is demonstrably running
      onProgress: () => controller.abort(new Error('job cancelled')),
    });
    await assert.rejects(failed, (e: unknown) => {
      assert.ok(e instanceof FfmpegError);
      assert.equal(e.reason, 'aborted');
      assert.equal((e.cause as Error).message, 'job cancelled');
      return true;
    });
    assert.equal(runningMediaProcesses(), 0);
  });

  test('the hard timeout stops ffmpeg', async () => {
    await assert.rejects(runFfmpeg(endless, { timeoutMs: 800 }), (e: unknown) => {
      assert.ok(e instanceof FfmpegError);
      assert.equal(e.reason, 'timeout');
      assert.match(e.message, /time limit/);
      return true;
    });
    assert.equal(runningMediaProcesses(), 0);
  });

  test('URL query strings (signatures) never reach the error', async () => {
    const url = 'http://127.0.0.1:9/originals/v.mp4?X-Amz-Signature=secret';
    await assert.rejects(runFfmpeg(['-rw_timeout', '2000000', '-i', url, '-f', 'null', '-'], { timeoutMs: 20_000 }), (e: unknown) => {
      assert.ok(e instanceof FfmpegError);
      assert.doesNotMatch(`${e.message}\n${e.stderrTail.join('\n')}`, /secret/);
      return true;
    });
  });
});

test('ffmpegFeatures answers for the resolved binary and is memoised', async () => {
  const first = ffmpegFeatures();
  assert.equal(ffmpegFeatures(), first);
  assert.equal(typeof (await first).fpsMode, 'boolean');
});
