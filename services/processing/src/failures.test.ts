import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FfmpegError, MediaProbeError } from '@anb/platform/media';
import { ProcessedOutputRejectedError } from './encode';
import { exhaustedReason, JobStoppedError, judgeFailure, UnprocessableVideoError } from './failures';

const context = { jobTimeoutSeconds: 300 };

test('what no retry can fix is permanent, with the reason as the owner reads it', () => {
  assert.deepEqual(judgeFailure(new UnprocessableVideoError('La duración del video debe estar entre 20 y 60 segundos; el archivo dura 12 s.'), context), {
    permanent: true,
    reason: 'La duración del video debe estar entre 20 y 60 segundos; el archivo dura 12 s.',
  });
  const rejected = new ProcessedOutputRejectedError('El video procesado no es válido: contiene audio y no debe tenerlo.');
  assert.deepEqual(judgeFailure(rejected, context), { permanent: true, reason: rejected.message });
});

test('ffmpeg failures are transient and quote its last line, without the job folder', () => {
  const error = new FfmpegError('failed', 'ffmpeg exited with code 1: …', 1, [
    'first line',
    'file:/tmp/anb-job-42-abc/original.mp4: Invalid data found when processing input',
  ]);
  assert.deepEqual(judgeFailure(error, context), { permanent: false, reason: 'ffmpeg falló: original.mp4: Invalid data found when processing input' });
});

test('time limits, probes and anything else are transient', () => {
  const limit = { permanent: false, reason: 'el procesamiento superó el tiempo máximo de 300 s' };
  assert.deepEqual(judgeFailure(new JobStoppedError('timeout'), context), limit);
  assert.deepEqual(judgeFailure(new FfmpegError('timeout', 'stopped', null, []), context), limit);
  assert.equal(judgeFailure(new MediaProbeError('timeout', 'probe timed out', { input: 'x' }), context).permanent, false);
  const s3 = Object.assign(new Error('We encountered an internal error.'), { name: 'InternalError' });
  assert.deepEqual(judgeFailure(s3, context), { permanent: false, reason: 'error al procesar el video (InternalError): We encountered an internal error.' });
});

test('the reason after the last attempt says how many there were', () => {
  assert.equal(exhaustedReason(3, 'ffmpeg falló: x'), 'No se pudo procesar el video tras 3 intentos; último error: ffmpeg falló: x');
  assert.equal(exhaustedReason(1, 'y'), 'No se pudo procesar el video tras 1 intento; último error: y');
});
