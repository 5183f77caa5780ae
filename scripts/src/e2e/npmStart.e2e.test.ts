import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { freePort, waitFor } from '@anb/platform/local';
import { repoRoot } from '../stack/stack';
import { testClip, uploadForm } from './media';
import { ApiClient } from './support';

/**
 * `npm start` as the README gives it, on the embedded defaults (its own PostgreSQL and moto, in a data
 * folder of its own): started as a terminal starts a command (a process group of its own), used, stopped
 * by a terminal's Ctrl-C (SIGINT to that whole group), started again on the same data, stopped by
 * SIGTERM to it alone (a process manager's stop).
 */
const dataDir = mkdtempSync(join(tmpdir(), 'anb-npm-start-'));
const running = new Set<ChildProcess>();
after(() => {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function npmStart(port: number): Promise<Started> {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), DATA_DIR: dataDir, LOG_FORMAT: 'json', RATE_LIMIT_AUTH_PER_MINUTE: '0' };
  // the embedded defaults, not the test run's shared servers
  for (const name of Object.keys(env)) if (name.startsWith('TEST_') || name === 'DATABASE_URL' || name === 'AWS_ENDPOINT_URL') delete env[name];
  // (what `npm start` runs; detached: a process group of its own, as a terminal gives a command)
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts', 'src', 'dev.ts')], { cwd: repoRoot, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`npm start exited (${child.exitCode}):\n${text}`);
      return text.includes('is up in');
    },
    { timeoutMs: 180_000, intervalMs: 100, message: 'npm start did not come up' },
  );
  return { child, output: () => text, exited };
}

/** the stop: every service stopped in order, moto's state saved, the embedded PostgreSQL shut down cleanly, the gateway's port closed */
async function assertStoppedCleanly(started: Started, port: number, how: string) {
  const { code, signal } = await started.exited;
  running.delete(started.child);
  const log = started.output();
  assert.equal(code, 0, `${how}: exit code ${code} (${signal})\n${log}`);
  assert.match(log, /stopping every service/);
  assert.match(log, /saved \d+ stored files and \d+ processing jobs/, `${how}: moto's state saved\n${log}`);
  assert.doesNotMatch(log, /could not save|exited \(|SIGKILL/, `${how}: nothing died out of order\n${log}`);
  assert.match(log, /stopped in [\d.]+ s/);
  assert.equal(existsSync(join(dataDir, 'postgres', 'postmaster.pid')), false, `${how}: PostgreSQL shut down cleanly`);
  await assert.rejects(fetch(`http://127.0.0.1:${port}/health`), `${how}: the gateway's port is closed`);
}

test('npm start: up, used, stopped by Ctrl-C with its state saved, up again with the same data — the upload queued before the stop is processed after it', async () => {
  const [port, clip] = await Promise.all([freePort(), testClip({ width: 1920, height: 1080, seconds: 21 })]);
  const first = await npmStart(port);
  const api = new ApiClient(`http://127.0.0.1:${port}`);
  const player = await api.newPlayer({ city: 'Medellín' });
  const uploaded = await api.request('POST', '/api/videos/upload', { token: player.token, body: await uploadForm(clip, { title: 'Antes de parar' }) });
  assert.equal(uploaded.status, 201, uploaded.text);
  const videoId = uploaded.body.video_id as string;

  // a terminal's Ctrl-C: SIGINT to the whole foreground group, at once after the upload (its processing
  // may be anywhere: queued, running, done)
  process.kill(-first.child.pid!, 'SIGINT');
  await assertStoppedCleanly(first, port, 'Ctrl-C');

  const second = await npmStart(port);
  assert.match(second.output(), /restored \d+ stored files/);
  // the same user (PostgreSQL's folder kept), the same video, processed after the restart if not before
  const login = await api.post('/api/auth/login', { email: player.email, password: player.signup.password1 });
  assert.equal(login.status, 200, login.text);
  const token = login.body.access_token as string;
  let detail: any;
  await waitFor(
    async () => {
      detail = (await api.get(`/api/videos/${videoId}`, token)).body;
      return detail.status === 'processed';
    },
    { timeoutMs: 120_000, intervalMs: 250, message: `the video uploaded before the stop is processed after it (last: ${JSON.stringify(detail)})` },
  );
  const file = await fetch(detail.processed_url);
  assert.equal(file.status, 200);
  assert.ok((await file.arrayBuffer()).byteLength > 10_000, 'the processed file is in the restored bucket');

  // a process manager's stop: SIGTERM to npm start's process alone
  second.child.kill('SIGTERM');
  await assertStoppedCleanly(second, port, 'SIGTERM');
});
