/**
 * Start-up failures an operator can fix, as one line naming the cause and the fix
 * (docs/administration.md#when-rivulet-does-not-start). Anything not recognised is printed as its
 * message; the stack trace only with LOG_LEVEL=debug (src/cli/main.ts).
 */
import { ConfigError, startupEnv } from './config.js';

type Env = Record<string, string | undefined>;

function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    return `${url.hostname}:${url.port || '5432'}${url.pathname}`;
  } catch {
    return 'DATABASE_URL';
  }
}

/** One line for `err`, or undefined when it is not a known start-up failure. */
export function explainStartupError(err: unknown, env: Env = startupEnv()): string | undefined {
  if (err instanceof ConfigError) return `${err.message}: fix or unset the variable (docs/reference/operations.md lists every one)`;
  if (!err || typeof err !== 'object') return undefined;
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  const code = typeof e.code === 'string' ? e.code : '';
  const dataDir = env.RIVULET_DATA_DIR || './data';

  if (code === 'EADDRINUSE') {
    return `port ${e.port ?? env.PORT ?? 3000} on ${e.address ?? env.HOST ?? '127.0.0.1'} is already in use (another Rivulet or another program listens there): stop it or set PORT to a free port`;
  }
  if (code === 'EADDRNOTAVAIL' || (code === 'ENOTFOUND' && e.syscall === 'getaddrinfo' && !env.DATABASE_URL)) {
    return `cannot listen on HOST=${env.HOST ?? '127.0.0.1'} (${code}): set HOST to an address of this machine (127.0.0.1, 0.0.0.0)`;
  }
  if (code === 'EACCES' && e.syscall === 'listen') {
    return `not allowed to listen on port ${e.port ?? env.PORT} (${code}): ports below 1024 need privileges; set PORT to 1024 or above`;
  }
  if (env.DATABASE_URL && (['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', 'ECONNRESET'].includes(code) || /timeout exceeded when trying to connect|Connection terminated/i.test(e.message ?? ''))) {
    return `cannot reach PostgreSQL at ${redactUrl(env.DATABASE_URL)} (${code || e.message}): start it, or fix DATABASE_URL`;
  }
  if (env.DATABASE_URL && ['28P01', '28000', '3D000', '42501'].includes(code)) {
    return `PostgreSQL at ${redactUrl(env.DATABASE_URL)} refused the connection: ${e.message}; fix the user, password or database in DATABASE_URL`;
  }
  if (['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'ENOSPC', 'EEXIST', 'ENOENT'].includes(code) && typeof e.path === 'string') {
    const what = code === 'ENOSPC' ? 'the disk is full' : code === 'EROFS' ? 'the filesystem is read-only' : code === 'ENOTDIR' ? 'a part of the path is a file' : code === 'ENOENT' ? 'a part of the path does not exist' : 'permission denied';
    return `the data dir is not writable: ${what} (${code} on ${e.path}): give this user a writable directory, or set RIVULET_DATA_DIR to one (now ${dataDir})`;
  }
  return undefined;
}
