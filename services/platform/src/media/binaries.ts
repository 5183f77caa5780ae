import { accessSync, constants, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, isAbsolute, join } from 'node:path';

export type MediaTool = 'ffmpeg' | 'ffprobe';

export interface ResolvedBinary {
  tool: MediaTool;
  path: string;
  /** where it came from, worth one line in the start-up log */
  source: 'env' | 'system' | 'npm';
}

export class MediaBinaryNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MediaBinaryNotFoundError';
  }
}

const envVariable: Record<MediaTool, string> = { ffmpeg: 'FFMPEG_PATH', ffprobe: 'FFPROBE_PATH' };
const npmPackage: Record<MediaTool, string> = { ffmpeg: '@ffmpeg-installer/ffmpeg', ffprobe: '@ffprobe-installer/ffprobe' };

/**
 * The installer packages are required lazily: their entry point checks the file system (and throws on an
 * unsupported platform) as soon as it is loaded, and every service imports the platform package, most of
 * them without ever running ffmpeg. Both are CommonJS modules exporting `{ path, version, url }`.
 */
const requireFromHere = createRequire(import.meta.url);

function npmBinary(tool: MediaTool): string | undefined {
  try {
    const installer = requireFromHere(npmPackage[tool]) as { path?: unknown };
    return typeof installer.path === 'string' && isExecutable(installer.path) ? installer.path : undefined;
  } catch {
    // the package throws (sometimes a plain string) when it has no binary for this platform
    return undefined;
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** A binary on PATH, looked up by hand: `which` would need a shell or another child process. */
export function findOnPath(name: string, pathVariable: string | undefined): string | undefined {
  const names = process.platform === 'win32' ? [`${name}.exe`, name] : [name];
  for (const dir of (pathVariable ?? '').split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue; // relative PATH entries would depend on the working directory
    for (const candidate of names) {
      const full = join(dir, candidate);
      if (isExecutable(full)) return full;
    }
  }
  return undefined;
}

/**
 * Env variable, else the system binary, else the npm-shipped one. A variable that points nowhere is an
 * error rather than a silent fallback: somebody asked for that binary on purpose.
 */
export function locateBinary(
  tool: MediaTool,
  env: Record<string, string | undefined> = process.env,
  bundled: (tool: MediaTool) => string | undefined = npmBinary,
): ResolvedBinary {
  const variable = envVariable[tool];
  const fromEnv = env[variable]?.trim();
  if (fromEnv) {
    if (!isExecutable(fromEnv)) throw new MediaBinaryNotFoundError(`${variable}=${fromEnv} is not an executable file`);
    return { tool, path: fromEnv, source: 'env' };
  }
  const system = findOnPath(tool, env.PATH ?? env.Path);
  if (system) return { tool, path: system, source: 'system' };
  const shipped = bundled(tool);
  if (shipped) return { tool, path: shipped, source: 'npm' };
  throw new MediaBinaryNotFoundError(
    `${tool} not found: set ${variable}, install ${tool} on PATH, or install the ${npmPackage[tool]} package for this platform`,
  );
}

const resolved = new Map<MediaTool, ResolvedBinary>();

/** Memoised for the life of the process: the answer does not change while it runs. */
export function mediaBinary(tool: MediaTool): ResolvedBinary {
  let binary = resolved.get(tool);
  if (!binary) {
    binary = locateBinary(tool);
    resolved.set(tool, binary);
  }
  return binary;
}

export const ffmpegPath = (): string => mediaBinary('ffmpeg').path;
export const ffprobePath = (): string => mediaBinary('ffprobe').path;
