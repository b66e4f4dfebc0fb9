/**
 * Environment → one typed configuration object (names: shared/spec/operations.md).
 * Every limit Rivulet enforces is here, with its default, so operators find them in one place.
 */
export interface RateLimitRule {
  /** Requests allowed per window. */
  limit: number;
  windowMs: number;
}

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  seedApiKey: string | undefined;
  publicUrl: string;
  logLevel: string;
  limits: {
    /** Body cap of the REST API (rest-api.md §0). */
    bodyBytes: number;
    /** Body cap of `/currents/events`. */
    currentsBodyBytes: number;
    /** Maximum distinct values of an array attribute (Braze: 25 by default, up to 100). */
    arrayAttributeValues: number;
    /** How long a request may take to arrive, in ms (slow clients are cut off). */
    requestTimeoutMs: number;
  };
  rateLimits: {
    track: RateLimitRule;
    identifyAndAlias: RateLimitRule;
    exportIds: RateLimitRule;
    currentsPublish: RateLimitRule;
    sdk: RateLimitRule;
  };
}

type Env = Record<string, string | undefined>;

export class ConfigError extends Error {}

function int(env: Env, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return n;
}

function rule(env: Env, name: string, limit: number, windowMs: number): RateLimitRule {
  return { limit: int(env, `RIVULET_RATE_LIMIT_${name}`, limit, 1), windowMs: int(env, `RIVULET_RATE_WINDOW_MS_${name}`, windowMs, 1) };
}

export function loadConfig(env: Env = process.env): Config {
  const port = int(env, 'PORT', 3000, 0, 65535);
  const host = env.HOST || '127.0.0.1';
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    port,
    host,
    dataDir: env.RIVULET_DATA_DIR || './data',
    databaseUrl: env.DATABASE_URL || undefined,
    seedApiKey: env.RIVULET_API_KEY || undefined,
    publicUrl: (env.RIVULET_PUBLIC_URL || `http://${urlHost}:${port}`).replace(/\/+$/, ''),
    logLevel: env.LOG_LEVEL || 'info',
    limits: {
      bodyBytes: int(env, 'RIVULET_BODY_LIMIT_BYTES', 4 * 1024 * 1024, 1024),
      currentsBodyBytes: int(env, 'RIVULET_CURRENTS_BODY_LIMIT_BYTES', 8 * 1024 * 1024, 1024),
      arrayAttributeValues: int(env, 'RIVULET_ARRAY_ATTRIBUTE_MAX', 25, 1, 100),
      requestTimeoutMs: int(env, 'RIVULET_REQUEST_TIMEOUT_MS', 30_000, 1000),
    },
    rateLimits: {
      track: rule(env, 'TRACK', 3000, 3000),
      identifyAndAlias: rule(env, 'IDENTIFY', 20_000, 60_000),
      exportIds: rule(env, 'EXPORT_IDS', 250, 60_000),
      currentsPublish: rule(env, 'CURRENTS', 3000, 3000),
      sdk: rule(env, 'SDK', 3000, 3000),
    },
  };
}
