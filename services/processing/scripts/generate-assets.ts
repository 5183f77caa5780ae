/**
 * Draws the ANB logo (bumpers) and watermark with ffmpeg alone — `geq` for the shapes, `drawtext` for the
 * letters when a bold TrueType font is around, else the letters as pixel blocks — and writes them as
 * small RGBA PNGs into services/processing/assets. Run once; the PNGs are committed.
 *
 *   node --import tsx services/processing/scripts/generate-assets.ts [--font /path/to/Bold.ttf | --no-font] [--out dir]
 *
 * Works with the 2018 static ffmpeg that @ffmpeg-installer ships (its fontconfig knows no fonts, so the
 * font is passed as a file).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { runFfmpeg } from '@anb/platform/media';

const argument = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const outArg = argument('--out');
const assetsDir = outArg ? `${outArg.replace(/\/$/, '')}/` : fileURLToPath(new URL('../assets/', import.meta.url));

const fontCandidates = [
  process.env.ANB_FONT_FILE,
  '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf',
  '/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf',
  '/usr/share/fonts/TTF/DejaVuSans-Bold.ttf',
  '/System/Library/Fonts/Supplemental/Arial Bold.ttf',
];

const orange = { r: 245, g: 118, b: 26 };
const seam = { r: 38, g: 20, b: 10 };

interface Canvas {
  width: number;
  height: number;
  /** per-pixel colour and alpha (0–255) expressions over X, Y */
  r: string;
  g: string;
  b: string;
  a: string;
}

/** A basketball of radius `radius` at (cx, cy): shaded orange, dark rim and seams, anti-aliased edge. */
function ball(cx: number, cy: number, radius: number) {
  const d = `hypot(X-${cx},Y-${cy})`;
  const line = Math.max(1.1, radius / 55);
  const arc = radius * 1.4; // the two side seams are arcs of bigger circles centred outside the ball
  const seams = [
    `lt(abs(X-${cx}),${line})`,
    `lt(abs(Y-${cy}),${line})`,
    `lt(abs(hypot(X-${cx + arc + radius * 0.45},Y-${cy})-${arc}),${line})`,
    `lt(abs(hypot(X-${cx - arc - radius * 0.45},Y-${cy})-${arc}),${line})`,
    `gt(${d},${radius - line * 2})`,
  ].join('+');
  // light from the top left
  const shade = `clip(1.15-0.5*hypot(X-${cx - radius * 0.35},Y-${cy - radius * 0.35})/${radius},0.55,1.1)`;
  const dark = `gt(${seams},0)`;
  const channel = (lit: number, shadow: number) => `if(${dark},${shadow},clip(${lit}*${shade},0,255))`;
  return {
    inside: `clip(${radius + 0.5}-${d},0,1)`,
    r: channel(orange.r, seam.r),
    g: channel(orange.g, seam.g),
    b: channel(orange.b, seam.b),
  };
}

/** 5x7 pixel glyphs, for machines without a font file. */
const glyphs: Record<string, string[]> = {
  A: ['.###.', '#...#', '#...#', '#####', '#...#', '#...#', '#...#'],
  N: ['#...#', '##..#', '##..#', '#.#.#', '#..##', '#..##', '#...#'],
  B: ['####.', '#...#', '#...#', '####.', '#...#', '#...#', '####.'],
};

/** An expression that is 1 on the blocks of `text` drawn with `cell`-pixel blocks centred at (cx, cy). */
function blockText(text: string, cx: number, cy: number, cell: number): string {
  const columns = text.length * 6 - 1;
  const left = cx - (columns * cell) / 2;
  const top = cy - (7 * cell) / 2;
  const blocks: string[] = [];
  [...text].forEach((char, i) => {
    glyphs[char]?.forEach((row, y) =>
      [...row].forEach((on, x) => {
        if (on !== '#') return;
        const x0 = left + (i * 6 + x) * cell;
        const y0 = top + y * cell;
        blocks.push(`between(X,${x0},${x0 + cell - 1})*between(Y,${y0},${y0 + cell - 1})`);
      }),
    );
  });
  return `gt(${blocks.join('+')},0)`;
}

/** The font path goes inside a filter graph; rather than escape it twice over, refuse the odd ones. */
function fontFileOption(font: string): string {
  if (/[':\\,;[\]]/.test(font)) throw new Error(`font path needs no quoting characters, got ${font}; pass --font with a simpler path`);
  return `fontfile='${font}'`;
}

async function render(canvas: Canvas, text: { drawtext?: string }, output: string): Promise<void> {
  const geq = `geq=r='${canvas.r}':g='${canvas.g}':b='${canvas.b}':a='${canvas.a}'`;
  const chain = [`format=rgba`, geq, ...(text.drawtext ? [text.drawtext] : [])].join(',');
  await runFfmpeg(
    [
      '-f',
      'lavfi',
      '-i',
      `color=c=black@0:s=${canvas.width}x${canvas.height}:d=1`,
      '-vf',
      chain,
      '-frames:v',
      '1',
      '-c:v',
      'png',
      '-pix_fmt',
      'rgba',
      '-f',
      'image2',
      '-y',
      `file:${output}`,
    ],
    { timeoutMs: 60_000 },
  );
}

async function logo(font: string | undefined): Promise<void> {
  const size = 400;
  const c = size / 2;
  const b = ball(c, c, 182);
  const letters = font ? undefined : blockText('ANB', c, c, 14);
  const white = (channel: string) => (letters ? `if(${letters},255,${channel})` : channel);
  await render(
    { width: size, height: size, r: white(b.r), g: white(b.g), b: white(b.b), a: `255*${b.inside}` },
    {
      drawtext: font
        ? `drawtext=${fontFileOption(font)}:text=ANB:fontsize=132:fontcolor=white:borderw=8:bordercolor=0x141b2d:` +
          `shadowcolor=black@0.45:shadowx=4:shadowy=5:x=(w-text_w)/2:y=(h-text_h)/2`
        : undefined,
    },
    `${assetsDir}anb-logo.png`,
  );
}

async function watermark(font: string | undefined): Promise<void> {
  const [w, h, radius] = [160, 60, 14];
  // a translucent dark rounded plate, a small ball at the left, the letters at the right
  const plate = `clip(${radius + 0.5}-hypot(max(0,abs(X-${w / 2})-${w / 2 - radius}),max(0,abs(Y-${h / 2})-${h / 2 - radius})),0,1)`;
  const b = ball(32, h / 2, 21);
  const letters = font ? undefined : blockText('ANB', 104, h / 2, 4);
  const pick = (ballChannel: string, plateValue: number) => {
    const base = `if(gt(${b.inside},0.5),${ballChannel},${plateValue})`;
    return letters ? `if(${letters},255,${base})` : base;
  };
  await render(
    {
      width: w,
      height: h,
      r: pick(b.r, 12),
      g: pick(b.g, 16),
      b: pick(b.b, 30),
      // semi-transparent everywhere: the plate lets the picture through, the ball and letters a little
      a: `${letters ? `if(${letters},220,` : ''}max(200*${b.inside},110*${plate})${letters ? ')' : ''}`,
    },
    {
      drawtext: font
        ? `drawtext=${fontFileOption(font)}:text=ANB:fontsize=34:fontcolor=white@0.9:x=62+(${w}-62-text_w)/2:y=(h-text_h)/2`
        : undefined,
    },
    `${assetsDir}anb-watermark.png`,
  );
}

const font = process.argv.includes('--no-font')
  ? undefined
  : (argument('--font') ?? fontCandidates.find((f): f is string => !!f && existsSync(f)));
await mkdir(assetsDir, { recursive: true });
await logo(font);
await watermark(font);
console.log(`wrote ${assetsDir}anb-logo.png and anb-watermark.png (${font ? `letters from ${font}` : 'block letters, no font found'})`);
