/**
 * The engage query API over HTTP (docs/reference/mixpanel-apis.md §9): `POST /api/query/engage` and the legacy
 * `/api/2.0/engage`, both also as `GET` with query parameters, and `POST /api/query/cohorts/list`.
 * Bodies are `application/x-www-form-urlencoded`; form fields win over query parameters of the
 * same name. Every error answers Mixpanel's `{"request": <path>, "error": <text>}`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { EngageApi, QueryKind } from './engage.js';

const ENGAGE_PATHS = ['/api/query/engage', '/api/2.0/engage'];
const COHORTS_LIST_PATHS = ['/api/query/cohorts/list', '/api/2.0/cohorts/list'];

function stringFields(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!raw || typeof raw !== 'object') return out;
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v === 'string') out[k] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
    else if (v !== null && v !== undefined) out[k] = JSON.stringify(v);
  }
  return out;
}

export async function engageRoutes(app: FastifyInstance, opts: { engage: EngageApi }): Promise<void> {
  const { engage } = opts;

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 1024 * 1024 }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  app.setErrorHandler((err: Error & { statusCode?: number }, request, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) request.log.error(err);
    return reply.code(status).send({ request: request.url.split('?')[0], error: status === 500 ? 'internal error' : err.message });
  });

  const handler = (kind: QueryKind) => async (request: FastifyRequest, reply: FastifyReply) => {
    const query = stringFields(request.query);
    const fields = { ...query, ...stringFields(request.body) };
    const result = await engage.handle({
      kind,
      path: request.url.split('?')[0]!,
      authorization: request.headers.authorization,
      projectId: fields.project_id || undefined,
      fields,
    });
    if (result.headers) reply.headers(result.headers);
    return reply.code(result.status).send(result.body);
  };

  for (const path of ENGAGE_PATHS) {
    app.post(path, handler('engage'));
    app.get(path, handler('engage'));
  }
  for (const path of COHORTS_LIST_PATHS) {
    app.post(path, handler('cohorts_list'));
    app.get(path, handler('cohorts_list'));
  }
}
