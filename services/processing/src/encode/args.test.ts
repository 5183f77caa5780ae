import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildEncodeArgs, defaultEncodeSettings, expectedOutputSeconds, InvalidEncodeSettingsError, type EncodeJob } from './args';

const job = (overrides: Partial<EncodeJob> = {}): EncodeJob => ({
  source: '/work/jobs/42/source.mp4',
  outputPath: '/work/jobs/42/processed.mp4',
  assets: { logoPng: '/app/assets/anb-logo.png', watermarkPng: '/app/assets/anb-watermark.png' },
  settings: { ...defaultEncodeSettings, preset: 'veryfast', crf: 23, threads: 2 },
  ...overrides,
});

/** The value following each occurrence of an option. */
function valuesOf(args: readonly string[], option: string): string[] {
  return args.flatMap((a, i) => (a === option ? [args[i + 1]!] : []));
}

function valueOf(args: readonly string[], option: string): string | undefined {
  const values = valuesOf(args, option);
  assert.ok(values.length <= 1, `${option} appears ${values.length} times`);
  return values[0];
}

/** Input options grouped by the `-i` they precede. */
function inputs(args: readonly string[]): { options: string[]; target: string }[] {
  const out: { options: string[]; target: string }[] = [];
  let start = 0;
  args.forEach((a, i) => {
    if (a === '-i') {
      out.push({ options: args.slice(start, i), target: args[i + 1]! });
      start = i + 2;
    }
  });
  return out;
}

/** `-filter_complex` split into its chains, keyed by output label. */
function chains(args: readonly string[]): Map<string, { inputs: string[]; filters: string[] }> {
  const graph = valueOf(args, '-filter_complex')!;
  const map = new Map<string, { inputs: string[]; filters: string[] }>();
  for (const chain of graph.split(';')) {
    const match = /^((?:\[[^\]]+\])+)(.*?)((?:\[[^\]]+\])+)$/.exec(chain);
    assert.ok(match, `chain with labelled inputs and outputs: ${chain}`);
    const labels = (s: string) => [...s.matchAll(/\[([^\]]+)\]/g)].map((m) => m[1]!);
    // split on commas outside parentheses (expressions such as (ow-iw)/2 have none, but be safe)
    const filters = match[2]!.split(/,(?![^(]*\))/);
    for (const out of labels(match[3]!)) map.set(out, { inputs: labels(match[1]!), filters });
  }
  return map;
}

const normalise = [
  'fps=30',
  'scale=1280:720:force_original_aspect_ratio=decrease',
  'pad=1280:720:(ow-iw)/2:(oh-ih)/2:color=black',
  'setsar=1',
  'format=yuv420p',
];

describe('buildEncodeArgs', () => {
  const args = buildEncodeArgs(job());

  test('is an argument array: every path and the graph are single elements, nothing is quoted for a shell', () => {
    assert.ok(args.every((a) => typeof a === 'string' && a.length > 0));
    assert.ok(!args.some((a) => /^['"]|['"]$/.test(a)), 'no shell quoting');
    const spaced = buildEncodeArgs(job({ source: '/tmp/my clips/-weird;name.mp4' }));
    assert.equal(inputs(spaced)[0]!.target, 'file:/tmp/my clips/-weird;name.mp4');
  });

  test('the source is cut on input with -t 30, read as MP4 and from files only', () => {
    const [source] = inputs(args);
    assert.deepEqual(source, {
      options: ['-protocol_whitelist', 'file', '-f', 'mov', '-t', '30'],
      target: 'file:/work/jobs/42/source.mp4',
    });
    // -t before the first -i is an input option; no output -t/-to/-ss that would decode the rest
    assert.equal(args.indexOf('-t'), args.indexOf('-i') - 2);
    assert.equal(valuesOf(args, '-t').length, 1);
    assert.ok(!args.includes('-to') && !args.includes('-ss'));
  });

  test('a URL source keeps its URL, with network protocols, an I/O timeout and reconnects', () => {
    const url = 'https://bucket.s3.us-east-1.amazonaws.com/originals/42.mp4?X-Amz-Signature=abc';
    const [source] = inputs(buildEncodeArgs(job({ source: url })));
    assert.equal(source!.target, url);
    assert.deepEqual(source!.options, [
      '-protocol_whitelist',
      'http,https,tcp,tls',
      '-rw_timeout',
      '30000000',
      '-reconnect',
      '1',
      '-reconnect_delay_max',
      '5',
      '-f',
      'mov',
      '-t',
      '30',
    ]);
  });

  test('inputs: source, logo, watermark, then two generated 1280x720 30 fps 2.5 s bumper backgrounds', () => {
    const all = inputs(args);
    assert.equal(all.length, 5);
    assert.deepEqual(all.slice(1, 3), [
      { options: [], target: 'file:/app/assets/anb-logo.png' },
      { options: [], target: 'file:/app/assets/anb-watermark.png' },
    ]);
    for (const bumper of all.slice(3)) {
      assert.deepEqual(bumper, { options: ['-f', 'lavfi'], target: 'color=c=black:s=1280x720:r=30:d=2.5' });
    }
  });

  test('every concat input is normalised the same way: scale to fit, pad centred in black, setsar, fps, format', () => {
    const graph = chains(args);
    assert.deepEqual(graph.get('fitted'), { inputs: ['0:v'], filters: ['setpts=PTS-STARTPTS', ...normalise] });
    assert.deepEqual(graph.get('bg_open'), { inputs: ['3:v'], filters: normalise });
    assert.deepEqual(graph.get('bg_close'), { inputs: ['4:v'], filters: normalise });
    // aspect is preserved: no scale to a fixed size without force_original_aspect_ratio, no crop
    assert.doesNotMatch(valueOf(args, '-filter_complex')!, /crop|scale=1280:720(?!:force_original_aspect_ratio=decrease)/);
  });

  test('the watermark sits in the bottom-right corner of the whole main part; the logo is centred on both bumpers', () => {
    const graph = chains(args);
    assert.deepEqual(graph.get('main'), { inputs: ['fitted', '2:v'], filters: ['overlay=x=W-w-24:y=H-h-24'] });
    assert.deepEqual(graph.get('logo_open'), { inputs: ['1:v'], filters: ['split=2'] });
    assert.deepEqual(graph.get('opening'), { inputs: ['bg_open', 'logo_open'], filters: ['overlay=x=(W-w)/2:y=(H-h)/2'] });
    assert.deepEqual(graph.get('closing'), { inputs: ['bg_close', 'logo_close'], filters: ['overlay=x=(W-w)/2:y=(H-h)/2'] });
  });

  test('the parts are concatenated video-only, opening · main · closing, and that is the only output', () => {
    const graph = chains(args);
    assert.deepEqual(graph.get('out'), { inputs: ['opening', 'main', 'closing'], filters: ['concat=n=3:v=1:a=0'] });
    assert.deepEqual(valuesOf(args, '-map'), ['[out]']);
  });

  test('no audio (nor subtitles, data, chapters or source metadata) in the output', () => {
    for (const flag of ['-an', '-sn', '-dn']) assert.ok(args.includes(flag), flag);
    assert.equal(valueOf(args, '-map_metadata'), '-1');
    assert.equal(valueOf(args, '-map_chapters'), '-1');
    assert.ok(!args.some((a) => a.startsWith('-c:a') || a.startsWith('-b:a') || a === '-acodec'));
    assert.doesNotMatch(valueOf(args, '-filter_complex')!, /\[0:a\]|a=1/);
  });

  test('H.264 yuv420p with the configured preset, crf and threads, constant 30 fps, faststart, overwrite', () => {
    assert.equal(valueOf(args, '-c:v'), 'libx264');
    assert.equal(valueOf(args, '-pix_fmt'), 'yuv420p');
    assert.equal(valueOf(args, '-preset'), 'veryfast');
    assert.equal(valueOf(args, '-crf'), '23');
    assert.equal(valueOf(args, '-threads'), '2');
    assert.equal(valueOf(args, '-filter_complex_threads'), '2');
    assert.equal(valueOf(args, '-r'), '30');
    assert.equal(valueOf(args, '-vsync'), 'cfr', 'the bundled 2018 ffmpeg only knows -vsync');
    assert.equal(valueOf(args, '-fps_mode'), undefined);
    assert.equal(valueOf(args, '-movflags'), '+faststart');
  });

  test('the output comes last, as an mp4 file, after -y', () => {
    assert.deepEqual(args.slice(-4), ['-f', 'mp4', '-y', 'file:/work/jobs/42/processed.mp4']);
  });

  test('a modern ffmpeg gets -fps_mode instead of -vsync (removed in ffmpeg 9)', () => {
    const modern = buildEncodeArgs(job({ ffmpeg: { fpsMode: true } }));
    assert.equal(valueOf(modern, '-fps_mode'), 'cfr');
    assert.ok(!modern.includes('-vsync'));
  });

  test('threads 0 leaves the thread counts to ffmpeg', () => {
    const auto = buildEncodeArgs(job({ settings: { ...defaultEncodeSettings, threads: 0 } }));
    assert.equal(valueOf(auto, '-threads'), '0');
    assert.ok(!auto.includes('-filter_complex_threads'));
  });

  test('settings flow through: size, frame rate, cut and bumper length', () => {
    const custom = buildEncodeArgs(
      job({ settings: { preset: 'ultrafast', crf: 30, threads: 1, fps: 25, width: 640, height: 360, maxSeconds: 10, bumperSeconds: 1.25 } }),
    );
    assert.equal(inputs(custom)[0]!.options.at(-1), '10');
    assert.equal(inputs(custom)[3]!.target, 'color=c=black:s=640x360:r=25:d=1.25');
    assert.match(valueOf(custom, '-filter_complex')!, /fps=25,scale=640:360:force_original_aspect_ratio=decrease,pad=640:360:/);
    assert.equal(valueOf(custom, '-r'), '25');
    assert.equal(valueOf(custom, '-preset'), 'ultrafast');
  });

  test('invalid settings are refused with every problem named', () => {
    assert.throws(
      () => buildEncodeArgs(job({ settings: { ...defaultEncodeSettings, crf: 60, width: 1279, preset: 'turbo' as 'fast' } })),
      (e: unknown) =>
        e instanceof InvalidEncodeSettingsError && /preset must be one of/.test(e.message) && /crf/.test(e.message) && /width/.test(e.message),
    );
    assert.throws(() => buildEncodeArgs(job({ settings: { ...defaultEncodeSettings, bumperSeconds: 0 } })), InvalidEncodeSettingsError);
  });

  test('the defaults are the contract: 1280x720, 30 fps, 30 s, 2.5 s bumpers', () => {
    assert.deepEqual(
      { ...defaultEncodeSettings, preset: undefined, crf: undefined, threads: undefined },
      { preset: undefined, crf: undefined, threads: undefined, fps: 30, width: 1280, height: 720, maxSeconds: 30, bumperSeconds: 2.5 },
    );
  });
});

test('expectedOutputSeconds: the cut source plus both bumpers', () => {
  assert.equal(expectedOutputSeconds(22, defaultEncodeSettings), 27);
  assert.equal(expectedOutputSeconds(45, defaultEncodeSettings), 35);
  assert.equal(expectedOutputSeconds(30, defaultEncodeSettings), 35);
});
