/**
 * The server's side of the CLI beside it (src/cli/store.ts): a server on the embedded store holds
 * the data dir's lock, so a CLI command cannot open the store; it sends its operation here instead.
 *
 * The credential is local: 32 random bytes written at each start to `<data dir>/local-admin.token`
 * (0600, atomically), readable only by the user who runs the server, which is who may open the
 * data dir anyway. The server keeps only its SHA-256 and compares in constant time; the token is
 * never logged (the header is redacted like `authorization`). The route answers only connections
 * from this host (loopback, or the server's own address), and is hidden from the OpenAPI document.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { CapabilityPlugin } from '../http/index.js';
import { ApiError } from '../http/index.js';
import { writeFileAtomic } from '../storage/index.js';
import { LOCAL_ADMIN_HEADER, LOCAL_ADMIN_PATH, LOCAL_ADMIN_TOKEN_FILE, type Io, type StreamLine } from './store.js';

const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest();

function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(v4) === 4) return v4.startsWith('127.');
  return address === '::1';
}

/** Writes a fresh local admin credential under the data dir and returns the routes that accept it. */
export async function localAdminRoutes(dataDir: string): Promise<CapabilityPlugin> {
  const token = randomBytes(32).toString('base64url');
  await writeFileAtomic(join(dataDir, LOCAL_ADMIN_TOKEN_FILE), `${token}\n`);
  const expected = digest(token);

  return async (app: FastifyInstance, { db }) => {
    const running = new Set<AbortController>();
    // Shutdown stops a running command (a backfill) first, rather than waiting for it to end.
    app.addHook('preClose', async () => {
      for (const c of running) c.abort();
    });
    app.post(
      LOCAL_ADMIN_PATH,
      { schema: { hide: true }, logLevel: 'warn' },
      async (request, reply) => {
        const given = request.headers[LOCAL_ADMIN_HEADER];
        const fromThisHost = isLoopback(request.socket.remoteAddress) || request.socket.remoteAddress === request.socket.localAddress;
        const ok = fromThisHost && typeof given === 'string' && timingSafeEqual(digest(given), expected);
        if (!ok) return reply.status(401).send({ message: 'Unauthorized', errors: [{ type: 'the local admin credential is wrong or the caller is not on loopback' }] });
        const body = request.body as { operation?: unknown; args?: unknown; stderr_is_tty?: unknown } | undefined;
        const { OPERATIONS } = await import('./operations.js');
        const name = typeof body?.operation === 'string' ? body.operation : '';
        const op = Object.hasOwn(OPERATIONS, name) ? OPERATIONS[name] : undefined;
        if (!op) return reply.status(400).send({ message: 'Bad request', errors: [{ type: `unknown operation ${name}` }] });

        const stream = new PassThrough();
        const send = (line: StreamLine) => stream.write(`${JSON.stringify(line)}\n`);
        const controller = new AbortController();
        running.add(controller);
        let finished = false;
        reply.raw.on('close', () => {
          if (!finished) controller.abort();
        });
        const io: Io = {
          out: (line) => void send({ out: line }),
          err: (text) => void send({ err: text }),
          exitCode: 0,
          signal: controller.signal,
          stderrIsTty: body?.stderr_is_tty === true,
        };
        // A long operation (a backfill) may print nothing for minutes: keep the client's read alive.
        const ping = setInterval(() => send({ ping: true }), 20_000);
        request.log.info({ operation: name }, 'running a CLI command for the local CLI');
        void (async () => {
          try {
            await op(db, body?.args ?? {}, io);
            send({ exit: io.exitCode });
          } catch (err) {
            const e = err as Error;
            if (e.name !== 'CliError' && !(err instanceof ApiError)) request.log.error({ err: e, operation: name }, 'CLI command failed');
            send({ error: e.message || String(e) });
          } finally {
            finished = true;
            clearInterval(ping);
            running.delete(controller);
            stream.end();
          }
        })();
        return reply.header('content-type', 'application/x-ndjson').header('cache-control', 'no-store').send(stream);
      },
    );
  };
}
