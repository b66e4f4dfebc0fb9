/**
 * The HTTP side of the Mixpanel destination: `POST {base}/import?strict=1&ip=0[&project_id=]`
 * with HTTP Basic auth (docs/reference/mixpanel-apis.md §2), a gzip-compressed JSON array body and a 60 s
 * timeout. Each connector owns one client and one connection pool, so a slow or failing
 * connector never holds a socket a healthy one needs. The answer is returned raw; what it means
 * is decided by `delivery/retry-policy.ts`. The authorization header is built here and goes
 * nowhere else: not into errors, not into logs.
 */
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { Pool } from 'undici';
import type { ImportAnswer } from '../delivery/retry-policy.js';
import type { SealedSecrets } from '../connectors/settings.js';

const gzipAsync = promisify(gzip);
/** Answers larger than this are cut: only their start is ever read (error text, failed_records). */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

export interface ImportClientOptions {
  baseUrl: string;
  secrets: SealedSecrets;
  /** Connections in the pool: the connector's requests in flight. */
  connections: number;
  timeoutMs: number;
  gzipLevel?: number;
}

/** `Basic base64(username:secret)` for a service account, `Basic base64(secret:)` for the legacy API secret. */
export function basicAuthorization(secrets: SealedSecrets): string {
  const c = secrets.credentials;
  const pair = c.kind === 'service_account' ? `${c.username}:${c.secret}` : `${c.apiSecret}:`;
  return `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;
}

export function importPath(basePath: string, secrets: SealedSecrets): string {
  const query = new URLSearchParams({ strict: '1', ip: '0' });
  if (secrets.credentials.kind === 'service_account') query.set('project_id', secrets.credentials.projectId);
  return `${basePath.replace(/\/+$/, '')}/import?${query.toString()}`;
}

function describeNetworkError(err: unknown): string {
  const e = err as { code?: unknown; name?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : typeof e.name === 'string' ? e.name : 'error';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'TimeoutError') return 'timeout';
  // undici's messages name the host and port, never the headers.
  return `${code}${typeof e.message === 'string' && e.message ? `: ${e.message.slice(0, 200)}` : ''}`;
}

export class MixpanelImportClient {
  private readonly pool: Pool;
  private readonly path: string;
  private readonly authorization: string;
  private readonly timeoutMs: number;
  private readonly gzipLevel: number;

  constructor(opts: ImportClientOptions) {
    const url = new URL(opts.baseUrl);
    this.pool = new Pool(url.origin, {
      connections: opts.connections,
      pipelining: 1,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      connectTimeout: Math.min(opts.timeoutMs, 10_000),
      keepAliveTimeout: 30_000,
    });
    this.path = importPath(url.pathname, opts.secrets);
    this.authorization = basicAuthorization(opts.secrets);
    this.timeoutMs = opts.timeoutMs;
    this.gzipLevel = opts.gzipLevel ?? 1;
  }

  /** Compresses and sends one JSON-array body; resolves to the answer, never rejects except on abort. */
  async send(body: string | Buffer, signal?: AbortSignal): Promise<ImportAnswer> {
    // 128 KiB output chunks (zlib's default is 16 KiB): a full batch compresses in one or two
    // thread-pool round trips.
    const compressed = await gzipAsync(body, { level: this.gzipLevel, chunkSize: 128 * 1024 });
    return this.sendCompressed(compressed, signal);
  }

  async sendCompressed(compressed: Buffer, signal?: AbortSignal): Promise<ImportAnswer> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    try {
      const res = await this.pool.request({
        method: 'POST',
        path: this.path,
        headers: {
          authorization: this.authorization,
          'content-type': 'application/json',
          'content-encoding': 'gzip',
          accept: 'application/json',
        },
        body: compressed,
        signal: combined,
      });
      const text = await readCapped(res.body);
      const retryAfter = res.headers['retry-after'];
      return { kind: 'response', status: res.statusCode, retryAfter: typeof retryAfter === 'string' ? retryAfter : null, text };
    } catch (err) {
      if (signal?.aborted) throw err;
      return { kind: 'network', error: describeNetworkError(err) };
    }
  }

  async close(): Promise<void> {
    await this.pool.close().catch(() => this.pool.destroy());
  }
}

async function readCapped(body: AsyncIterable<Buffer> & { destroy?: () => void }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    if (size < MAX_ANSWER_BYTES) chunks.push(chunk);
    size += chunk.length;
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, MAX_ANSWER_BYTES);
}
