/**
 * Turns Ajv's schema errors into the catalogue's shape: a message a person can read
 * (`events must be an array`) and one entry per problem with the JSON path at fault.
 */
import type { FastifySchemaValidationError } from 'fastify/types/schema.js';
import { MAX_ERROR_ENTRIES } from './errors.js';

const ARTICLE: Record<string, string> = { array: 'an array', object: 'an object', integer: 'an integer' };

function path(dataVar: string, instancePath: string, missing?: string): string {
  const parts = instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (missing) parts.push(missing);
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out ? `.${p}` : p;
  return out || dataVar;
}

export function describe(e: FastifySchemaValidationError, dataVar: string): { path: string; message: string } {
  const params = e.params as Record<string, unknown>;
  const missing = e.keyword === 'required' ? String(params.missingProperty) : undefined;
  const p = path(dataVar, e.instancePath, missing);
  switch (e.keyword) {
    case 'type': {
      const t = String(params.type);
      return { path: p, message: `${p} must be ${ARTICLE[t] ?? `a ${t}`}` };
    }
    case 'required':
      return { path: p, message: `${p} is required` };
    case 'additionalProperties':
      return { path: path(dataVar, e.instancePath, String(params.additionalProperty)), message: `${String(params.additionalProperty)} is not allowed` };
    default:
      return { path: p, message: `${p} ${e.message ?? 'is invalid'}` };
  }
}

export function formatValidationErrors(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const notAnObject = dataVar === 'body' && errors.some((e) => e.instancePath === '' && e.keyword === 'type');
  const described = notAnObject
    ? [{ path: 'body', message: 'the body must be a JSON object' }]
    : errors.slice(0, MAX_ERROR_ENTRIES).map((e) => describe(e, dataVar));
  const err = new Error(notAnObject ? 'Invalid JSON' : (described[0]?.message ?? 'invalid request')) as Error & {
    validation: unknown;
    entries: { type: string; path: string }[];
    /** How many problems Ajv found; only the first MAX_ERROR_ENTRIES are described. */
    errorCount: number;
    statusCode: number;
    notAnObject: boolean;
  };
  err.notAnObject = notAnObject;
  err.validation = errors;
  err.statusCode = 400;
  err.entries = described.map((d) => ({ type: d.message, path: d.path }));
  err.errorCount = notAnObject ? 1 : errors.length;
  return err;
}
