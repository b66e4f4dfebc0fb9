/**
 * How a CLI command reaches the store. Every command that reads or changes the store is an
 * operation `(db, args, io)`, run one of two ways:
 *
 * - locally: the command opens the store itself (PostgreSQL, or the embedded store under the data
 *   dir once it holds the data dir's lock), runs, and closes it;
 * - through a running server: when the embedded store is locked by a `rivulet serve`, the command
 *   sends its operation's name and arguments to that server's local admin endpoint on loopback
 *   (src/cli/local-admin.ts), which runs the same operation on its own store and streams the
 *   output back. The PGlite files are never opened by two processes.
 *
 * Arguments are gathered (and secrets read from stdin or the environment) on the CLI's side, so
 * both ways run the same code on the same input.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig, type Config } from '../config.js';
import { MasterKeyError, resolveMasterKey } from '../secrets/index.js';
import type { SecretBox } from '../secrets/index.js';
import { prepareStore } from '../workspaces/index.js';
import { DataDirLockedError, openStorage, readLock, type Db, type LockOwner } from '../storage/index.js';

export class CliError extends Error {
  override name = 'CliError';
}

/** Where an operation writes: the terminal, or the stream back to a forwarding CLI. */
export interface Io {
  /** A line of stdout (a newline is added). */
  out(line: string): void;
  /** Text for stderr, as is. */
  err(text: string): void;
  exitCode: number;
  /** Aborted on Ctrl-C (or when the forwarding CLI goes away). */
  readonly signal: AbortSignal;
  readonly stderrIsTty: boolean;
}

export type Operation = (db: Db, args: any, io: Io) => Promise<void>;

export const LOCAL_ADMIN_TOKEN_FILE = 'local-admin.token';
export const LOCAL_ADMIN_PATH = '/admin/local/cli';
export const LOCAL_ADMIN_HEADER = 'x-rivulet-local-admin';

/** How long the CLI waits for another CLI command holding the store. */
const WAIT_MS = 30_000;
/** How long it waits for a starting server to listen (a first start creates the store: slow on a busy machine). */
const SERVER_START_WAIT_MS = 120_000;

function terminalIo(signal: AbortSignal): Io {
  return {
    out: (line) => void process.stdout.write(`${line}\n`),
    err: (text) => void process.stderr.write(text),
    exitCode: 0,
    signal,
    stderrIsTty: process.stderr.isTTY === true,
  };
}

/** Ctrl-C (or SIGTERM) aborts the running operation; a second one ends the process. */
function interrupts(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

let registered: Record<string, Operation> = {};

/**
 * The operations this process can run: `rivulet` registers src/cli/operations.ts at start (here
 * rather than imported, since every command module imports this one).
 */
export function registerOperations(operations: Record<string, Operation>): void {
  registered = operations;
}

/**
 * Runs a registered operation (src/cli/operations.ts) here, or through the server holding the
 * embedded store. Sets the process's exit code from the operation's.
 */
export async function runOperation(name: string, args: unknown, opts: { migrate?: boolean } = {}): Promise<void> {
  const op = registered[name];
  if (!op) throw new Error(`unknown operation ${name}`);
  const config = loadConfig();
  const stop = interrupts();
  try {
    let db: Db;
    try {
      db = await openStorage({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, lock: { kind: 'cli', waitForCliMs: WAIT_MS } });
    } catch (err) {
      if (err instanceof DataDirLockedError && err.owner.kind === 'server') {
        process.exitCode = await forward(config, err.owner, name, args, stop.signal);
        return;
      }
      throw err;
    }
    const io = terminalIo(stop.signal);
    try {
      if (opts.migrate !== false) await prepareStore(db, config);
      await op(db, args, io);
    } finally {
      await db.close();
    }
    if (io.exitCode) process.exitCode = io.exitCode;
  } finally {
    stop.dispose();
  }
}

/** One line of the local admin endpoint's answer (NDJSON). */
export type StreamLine = { out: string } | { err: string } | { exit: number } | { error: string } | { ping: true };

async function forward(config: Config, owner: LockOwner, name: string, args: unknown, signal: AbortSignal): Promise<number> {
  let url = owner.url;
  const deadline = Date.now() + SERVER_START_WAIT_MS;
  while (!url) {
    // The server has the lock but does not listen yet: wait for it to say where.
    if (Date.now() > deadline) {
      throw new CliError(`the data dir ${config.dataDir} is held by pid ${owner.pid} (${owner.command}), which has not started serving within ${SERVER_START_WAIT_MS / 1000} s; try again once it serves`);
    }
    await new Promise((r) => setTimeout(r, 200));
    const now = await readLock(config.dataDir);
    if (!now) throw new CliError(`the server holding ${config.dataDir} (pid ${owner.pid}) stopped; run the command again`);
    url = now.url;
  }
  const tokenFile = join(config.dataDir, LOCAL_ADMIN_TOKEN_FILE);
  const token = (await readFile(tokenFile, 'utf8').catch((err: Error) => {
    throw new CliError(`the store is held by the server at ${url} (pid ${owner.pid}); its admin credential ${tokenFile} cannot be read (${err.message}): run the command as the user running the server`);
  })).trim();
  let res: Response;
  try {
    res = await fetch(`${url}${LOCAL_ADMIN_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [LOCAL_ADMIN_HEADER]: token },
      body: JSON.stringify({ operation: name, args, stderr_is_tty: process.stderr.isTTY === true }),
      signal,
    });
  } catch (err) {
    throw new CliError(`the store is held by the server at ${url} (pid ${owner.pid}), which did not answer: ${(err as Error).message}`);
  }
  if (res.status !== 200 || !res.body) {
    throw new CliError(`the server at ${url} (pid ${owner.pid}) refused the command: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
  }
  let buffered = '';
  let exit: number | undefined;
  const decoder = new TextDecoder();
  const handle = (line: string) => {
    if (!line) return;
    const msg = JSON.parse(line) as StreamLine;
    if ('out' in msg) process.stdout.write(`${msg.out}\n`);
    else if ('err' in msg) process.stderr.write(msg.err);
    else if ('exit' in msg) exit = msg.exit;
    else if ('error' in msg) throw new CliError(msg.error);
  };
  try {
    for await (const chunk of res.body) {
      buffered += decoder.decode(chunk as Uint8Array, { stream: true });
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        handle(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
      }
    }
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`the connection to the server at ${url} was lost before the command ended: ${(err as Error).message}`);
  }
  handle(buffered);
  if (exit === undefined) throw new CliError(`the server at ${url} ended the answer before the command ended`);
  return exit;
}

/**
 * The deployment's master key for an operation that seals or opens credentials: the one the
 * database knows (its check value), so a command never seals under a key the servers cannot open.
 */
export async function deploymentBox(db: Db, config: Config): Promise<SecretBox> {
  try {
    return (await resolveMasterKey(db, config.masterKey, config.dataDir)).box;
  } catch (err) {
    if (err instanceof MasterKeyError) throw new CliError(err.message);
    throw err;
  }
}
