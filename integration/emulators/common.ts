import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** The repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Git-ignored cache: downloads, builds, data, logs, pid files. */
export const CACHE = process.env.POLYBUS_EMULATORS_DIR ?? join(ROOT, '.emulators');
export const LOGS = join(CACHE, 'logs');
export const RUN = join(CACHE, 'run');
/** The env file `up` writes and the integration tests read. */
export const ENV_FILE = join(CACHE, 'endpoints.env');

export const execFileAsync = promisify(execFile);

export function ensureDir(path: string): string {
  mkdirSync(path, { recursive: true });
  return path;
}

/** Prints a progress line to stderr (stdout is kept for the endpoint variables). */
export function say(message: string): void {
  process.stderr.write(`[emulators] ${message}\n`);
}

/** A broker that failed to install or start; carries the tail of its log. */
export class EmulatorError extends Error {
  constructor(broker: string, what: string, logFile?: string) {
    const tail = logFile ? `\n--- last lines of ${logFile} ---\n${tailOf(logFile, 40)}` : '';
    super(`${broker}: ${what}${tail}`);
    this.name = 'EmulatorError';
  }
}

export function tailOf(file: string, lines: number): string {
  if (!existsSync(file)) return '(no log)';
  const text = readFileSync(file, 'utf8');
  return text.split('\n').slice(-lines).join('\n');
}

/** Whether something accepts TCP connections on host:port. */
export function tcpOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = connect({ host, port });
    const done = (open: boolean): void => {
      socket.destroy();
      resolvePromise(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Polls `check` until it returns true; throws with the log tail after `timeoutMs`. */
export async function waitUntil(
  broker: string,
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  logFile?: string,
  alive?: () => boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    if (alive && !alive()) throw new EmulatorError(broker, `the process exited before ${what}`, logFile);
    await sleep(500);
  }
  const reason = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
  throw new EmulatorError(broker, `not ${what} after ${Math.round(timeoutMs / 1000)} s${reason}`, logFile);
}

function pidFile(name: string): string {
  return join(RUN, `${name}.pid`);
}

/** The pid recorded for a broker, if that process is still alive. */
export function runningPid(name: string): number | undefined {
  const file = pidFile(name);
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && isAlive(pid) ? pid : undefined;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface DetachedOptions {
  command: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts a broker process in its own process group, detached from this one so it outlives the
 * command that started it; output goes to logs/<name>.log, the pid to run/<name>.pid.
 */
export function startDetached(
  name: string,
  options: DetachedOptions,
): { pid: number; logFile: string; child: ChildProcess } {
  ensureDir(LOGS);
  ensureDir(RUN);
  const logFile = join(LOGS, `${name}.log`);
  const log = openSync(logFile, 'a');
  writeFileSync(log, `\n=== ${new Date().toISOString()} starting ${options.command} ${options.args.join(' ')}\n`);
  const child = spawn(options.command, options.args, {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...options.env },
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  if (child.pid === undefined) throw new EmulatorError(name, `could not spawn ${options.command}`, logFile);
  child.unref();
  writeFileSync(pidFile(name), String(child.pid));
  return { pid: child.pid, logFile, child };
}

/** How to tell that a launched broker accepts work. */
export interface Readiness {
  /** Shown in the error: "not <what> after N s". */
  what: string;
  check: () => Promise<boolean>;
  timeoutMs: number;
}

/**
 * Starts a broker with {@link startDetached} and waits until `readiness.check` passes; fails
 * early, with the log tail, if the process exits first.
 */
export async function launch(name: string, options: DetachedOptions, readiness: Readiness): Promise<void> {
  const { logFile, pid } = startDetached(name, options);
  await waitUntil(name, readiness.what, readiness.check, readiness.timeoutMs, logFile, () => runningPid(name) === pid);
}

/** Stops a broker's process group: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopDetached(name: string, graceMs = 20_000): Promise<boolean> {
  const pid = runningPid(name);
  rmSync(pidFile(name), { force: true });
  if (pid === undefined) return false;
  const signalGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-pid, signal);
    } catch {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
  };
  signalGroup('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(200);
  if (isAlive(pid)) signalGroup('SIGKILL');
  while (isAlive(pid)) await sleep(100);
  return true;
}

/** Runs a command, streaming its output into a log file; throws with the log tail if it fails. */
export async function runLogged(
  broker: string,
  step: string,
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<void> {
  ensureDir(LOGS);
  const logFile = join(LOGS, `${broker}-${step}.log`);
  const log = openSync(logFile, 'w');
  const child = spawn(command, args, {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const timeoutMs = options.timeoutMs ?? 20 * 60_000;
  const code = await new Promise<number | null>((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new EmulatorError(broker, `${step} took longer than ${timeoutMs / 1000} s`, logFile));
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new EmulatorError(broker, `${step}: ${error.message}`, logFile));
    });
    child.once('exit', (exitCode) => {
      clearTimeout(timer);
      resolvePromise(exitCode);
    });
  });
  if (code !== 0) throw new EmulatorError(broker, `${step} failed (${command} exited with ${code})`, logFile);
}

/** True when a file exists and is not empty (a finished download or build). */
export function isBuilt(path: string): boolean {
  return existsSync(path) && statSync(path).size > 0;
}
