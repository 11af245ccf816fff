/**
 * Finding programs (ffmpeg, espeak-ng, a speech command) and the files users name in a node's
 * settings, the same way on Linux, macOS and Windows. Everything that depends on the platform
 * (path rules, PATH/PATHEXT, where installers put programs, which files exist) can be passed in,
 * so the Windows and macOS rules are tested on any machine with `path.win32` / `path.posix`.
 */
import { accessSync, constants, statSync } from 'node:fs';
import nodePath from 'node:path';

/** The platform facts the lookup depends on; defaults are this process's. */
export interface PlatformEnv {
  platform?: NodeJS.Platform;
  /** path rules: node:path's win32 or posix object (default: the one of `platform`) */
  path?: nodePath.PlatformPath;
  /** environment variables (PATH, PATHEXT, ProgramFiles…); default process.env */
  env?: NodeJS.ProcessEnv;
  /** whether `file` is a program we can start (default: a file, executable outside Windows) */
  isExecutable?: (file: string) => boolean;
}

function platformOf(p: PlatformEnv): NodeJS.Platform {
  return p.platform ?? process.platform;
}

function pathOf(p: PlatformEnv): nodePath.PlatformPath {
  return p.path ?? (platformOf(p) === 'win32' ? nodePath.win32 : nodePath.posix);
}

/** Windows keeps environment names case-insensitive (Path, PATH…): so does this lookup. */
function envVar(p: PlatformEnv, name: string): string | undefined {
  const env = p.env ?? process.env;
  if (platformOf(p) !== 'win32') return env[name];
  const key = Object.keys(env).find((k) => k.toUpperCase() === name.toUpperCase());
  return key === undefined ? undefined : env[key];
}

function defaultIsExecutable(platform: NodeJS.Platform): (file: string) => boolean {
  return (file) => {
    try {
      if (!statSync(file).isFile()) return false;
      // Windows has no execute bit (X_OK is always granted): a file with a PATHEXT ending will do
      if (platform !== 'win32') accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
}

/**
 * True when `name` names a file rather than a program to look up on PATH: an absolute path, or
 * one with a directory separator (`/`, and on Windows also `\` and a drive like `C:tool.exe`).
 */
export function isPathLike(name: string, p: PlatformEnv = {}): boolean {
  const path = pathOf(p);
  if (path.isAbsolute(name) || name.includes('/')) return true;
  return platformOf(p) === 'win32' && (name.includes('\\') || /^[A-Za-z]:/.test(name));
}

/**
 * Where installers put programs that a service's PATH often lacks: Homebrew on Apple silicon
 * (/opt/homebrew/bin) and on Intel Macs (/usr/local/bin), MacPorts; on Windows the program's own
 * folder under Program Files (the eSpeak NG installer does not add itself to PATH).
 */
export function wellKnownDirs(program: string, p: PlatformEnv = {}): string[] {
  const platform = platformOf(p);
  if (platform === 'darwin') return ['/opt/homebrew/bin', '/usr/local/bin', '/opt/local/bin'];
  if (platform === 'win32') {
    const folders: Record<string, string[]> = { 'espeak-ng': ['eSpeak NG'], ffmpeg: ['ffmpeg\\bin'] };
    const roots = [envVar(p, 'ProgramFiles'), envVar(p, 'ProgramFiles(x86)')].filter((r): r is string => !!r);
    return (folders[program] ?? []).flatMap((f) => roots.map((r) => pathOf(p).join(r, f)));
  }
  return [];
}

/** The endings Windows tries for a bare program name, lower-case (PATHEXT, or its default). */
export function pathExtensions(p: PlatformEnv = {}): string[] {
  if (platformOf(p) !== 'win32') return [''];
  const list = (envVar(p, 'PATHEXT') || '.COM;.EXE;.BAT;.CMD').split(';').map((e) => e.trim().toLowerCase()).filter((e) => e.startsWith('.'));
  return list.length ? list : ['.com', '.exe'];
}

/**
 * The full path of a program, or undefined. A path-like name is used as it is (resolved against
 * `baseDir` when relative); a bare name is looked up in PATH and then in the well-known
 * install folders. On Windows each PATHEXT ending is tried (`ffmpeg` finds `ffmpeg.exe`).
 */
export function findExecutable(name: string, p: PlatformEnv & { baseDir?: string } = {}): string | undefined {
  const path = pathOf(p);
  const platform = platformOf(p);
  const isExecutable = p.isExecutable ?? defaultIsExecutable(platform);
  const exts = pathExtensions(p);
  // a name that already ends in one of the endings is tried as it is first
  const variants = (base: string) => {
    const lower = base.toLowerCase();
    const named = platform !== 'win32' || exts.some((e) => e && lower.endsWith(e));
    return [...(named ? [base] : []), ...exts.filter(Boolean).map((e) => base + e)];
  };
  let candidates: string[];
  if (isPathLike(name, p)) {
    candidates = variants(resolveUserPath(name, p.baseDir, p));
  } else {
    const dirs = (envVar(p, 'PATH') ?? '').split(platform === 'win32' ? ';' : ':').map((d) => d.trim().replace(/^"(.*)"$/, '$1'));
    const all = [...dirs, ...wellKnownDirs(name, p)].filter((d, i, a) => d && a.indexOf(d) === i);
    candidates = all.flatMap((d) => variants(path.join(d, name)));
  }
  return candidates.find((c) => isExecutable(c));
}

/**
 * A file named in a node's settings, made absolute. A relative name is taken from `baseDir`
 * (Node-RED's user directory), never from the process's working directory, which for a Windows
 * service is C:\Windows\System32. An empty name stays empty.
 */
export function resolveUserPath(file: string, baseDir: string | undefined, p: PlatformEnv = {}): string {
  if (!file) return file;
  // absolute paths (UNC \\server\share too) come out as they are, normalized; a Windows path
  // rooted without a drive (\tools\x.exe) takes the drive of the user directory
  const path = pathOf(p);
  const base = baseDir || process.cwd();
  const drive = /^([A-Za-z]:)(?![\\/])(.*)$/.exec(file);
  if (drive && platformOf(p) === 'win32') {
    // drive-relative (D:voices\x.wav): from the user directory on its own drive, else from the
    // root of that drive (what a service, whose other drives have no current folder, would get)
    const sameDrive = base.slice(0, 2).toUpperCase() === drive[1].toUpperCase();
    return sameDrive ? path.resolve(base, drive[2]) : path.resolve(`${drive[1]}\\`, drive[2]);
  }
  return path.resolve(base, file);
}

/** True for a Windows batch file, which Node.js refuses to start without a shell (EINVAL). */
export function isBatchFile(file: string): boolean {
  return /\.(bat|cmd)$/i.test(file);
}

/**
 * Why a program could not be started, in words a user can act on. ENOENT: not installed or not
 * where it was said to be; EINVAL for a .bat/.cmd: Node.js (since 18.20.2 / 20.12.2) does not run
 * batch files without a shell, and we do not use one so that text can never run commands.
 */
export function spawnFailureReason(cmd: string, err: NodeJS.ErrnoException): string {
  if (err.code === 'ENOENT') return `"${cmd}" is not installed or not found (give its full path, or add its folder to PATH of the Node-RED process)`;
  if (err.code === 'EACCES') return `"${cmd}" cannot be run (no permission to execute it)`;
  if (err.code === 'EINVAL' && isBatchFile(cmd)) {
    return `"${cmd}" is a batch file (.bat/.cmd), which Node.js does not start without a shell: name the program it runs (the .exe) instead`;
  }
  return err.message;
}
