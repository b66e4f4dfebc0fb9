/**
 * Admin API for the caller's workspace and its REST API keys (Bearer key with `admin`). The keys
 * are workspaces' data; their routes live beside the authentication that reads them, so that
 * `workspaces/` does not depend on the HTTP layer that depends on it.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { createApiKey, listApiKeysPage, PERMISSIONS, revokeApiKey, type ApiKeyRecord, type Permission } from '../workspaces/index.js';
import type { AppServices } from './app.js';
import { requireKey } from './auth.js';
import { Errors } from './errors.js';
import { PageQuery, pageRequest } from './pagination.js';
import { ApiKey, ApiKeyPage, NewApiKey, Workspace } from './contract.js';

const admin = { permission: 'admin' as const };
const CreateKeyBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 255 }),
    // No `uniqueItems`: Ajv's deep-equal would run on hostile items; duplicates are dropped below.
    permissions: Type.Array(Type.Union(PERMISSIONS.map((p) => Type.Literal(p))), { minItems: 1, maxItems: 32 }),
  },
  { additionalProperties: false },
);

export function publicKey(rec: ApiKeyRecord) {
  return {
    prefix: rec.prefix,
    name: rec.name,
    workspace_id: rec.workspace_id,
    permissions: rec.permissions,
    created_at: rec.created_at,
    last_used_at: rec.last_used_at,
    revoked_at: rec.revoked_at,
    state: rec.revoked_at ? 'revoked' : 'active',
  };
}

export async function workspaceRoutes(app: FastifyInstance, { db, config, authenticator }: AppServices): Promise<void> {
  app.get('/admin/workspace', { config: admin, schema: { tags: ['admin'], response: { 200: Workspace }, summary: 'This workspace and its REST endpoint' } }, async (request) => {
    const key = requireKey(request);
    const { rows } = await db.query<{ id: string; name: string; created_at: Date }>('SELECT id, name, created_at FROM workspaces WHERE id = $1', [
      key.workspace_id,
    ]);
    return { ...rows[0], rest_endpoint: config.publicUrl };
  });

  app.post(
    '/admin/keys',
    { config: admin, schema: { tags: ['admin'], response: { 201: NewApiKey }, summary: 'Create a REST API key (the key is shown only in this response)', body: CreateKeyBody } },
    async (request, reply) => {
      const key = requireKey(request);
      const body = request.body as { name: string; permissions: Permission[] };
      const created = await createApiKey(db, { workspaceId: key.workspace_id, name: body.name, permissions: [...new Set(body.permissions)] });
      return reply.status(201).send({ key: created.key, ...publicKey(created.record) });
    },
  );

  app.get('/admin/keys', { config: admin, schema: { tags: ['admin'], response: { 200: ApiKeyPage }, summary: "A page of this workspace's REST API keys, oldest first", querystring: PageQuery } }, async (request) => {
    const key = requireKey(request);
    const page = await listApiKeysPage(db, key.workspace_id, pageRequest(request.query));
    return { keys: page.items.map(publicKey), next_cursor: page.next_cursor };
  });

  app.post(
    '/admin/keys/:prefix/revoke',
    {
      config: admin,
      schema: { tags: ['admin'], response: { 200: ApiKey }, summary: 'Revoke a REST API key at once', params: Type.Object({ prefix: Type.String({ maxLength: 64 }) }) },
    },
    async (request) => {
      const key = requireKey(request);
      const { prefix } = request.params as { prefix: string };
      const revoked = await revokeApiKey(db, prefix, key.workspace_id);
      if (!revoked) throw Errors.notFound(`REST API key ${prefix}`);
      authenticator.invalidate();
      return publicKey(revoked);
    },
  );
}
