/**
 * The Braze-shaped `/users/*` routes and the SDK-style session routes. Bodies of the batch routes
 * are validated per item by the services (partial success), so their schemas only document them.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { AppServices } from '../http/index.js';
import { ErrorBody, requireKey } from '../http/index.js';
import type { MergeParticipant, ProfileExtension } from '../identity/index.js';
import { exportIds } from './export-ids.js';
import { identifyUsers, newAliases } from './identify.js';
import { changeUser, endSession, startSession, type ChangeUserInput, type SessionEndInput, type SessionStartInput } from './sessions.js';
import { registerGroupCommitMetrics } from './metrics.js';
import { createTracker, trackGroupOptions } from './track.js';

export interface TrackingHooks {
  mergeParticipants: MergeParticipant[];
  profileExtensions: ProfileExtension[];
}

const documented = (description: string) => ({ type: 'object', description, additionalProperties: true }) as const;
const successBody = Type.Object({ message: Type.String() }, { additionalProperties: true });
// The one error body of every route (src/http/contract.ts).
const errorBody = ErrorBody;
const responses = (ok: number) => ({ [ok]: successBody, 400: errorBody, 401: errorBody, 403: errorBody, 413: errorBody, 415: errorBody, 429: errorBody });

const Short = Type.String({ minLength: 1, maxLength: 255 });
const Platform = Type.Union(['ios', 'android', 'kindle', 'web', 'tvos', 'roku'].map((p) => Type.Literal(p)));
const DeviceFields = {
  app_id: Short,
  device_id: Short,
  platform: Type.Optional(Platform),
  os_version: Type.Optional(Short),
  device_model: Type.Optional(Short),
  sdk_version: Type.Optional(Short),
};
const Location = Type.Object(
  {
    latitude: Type.Number({ minimum: -90, maximum: 90 }),
    longitude: Type.Number({ minimum: -180, maximum: 180 }),
    altitude: Type.Optional(Type.Number()),
    ll_accuracy: Type.Optional(Type.Number({ minimum: 0 })),
    alt_accuracy: Type.Optional(Type.Number({ minimum: 0 })),
  },
  { additionalProperties: false },
);
const SessionStartBody = Type.Object(
  { ...DeviceFields, session_id: Short, time: Type.Optional(Type.String({ maxLength: 64 })), location: Type.Optional(Location) },
  { additionalProperties: false },
);
const SessionEndBody = Type.Object(
  { ...DeviceFields, session_id: Short, time: Type.Optional(Type.String({ maxLength: 64 })), duration: Type.Optional(Type.Number({ minimum: 0 })) },
  { additionalProperties: false },
);
const ChangeUserBody = Type.Object(
  {
    device_id: Short,
    external_id: Type.String({ minLength: 1, maxLength: 512 }),
    merge_behavior: Type.Optional(Type.Union([Type.Literal('merge'), Type.Literal('none')])),
  },
  { additionalProperties: false },
);

export function trackingRoutes(hooks: TrackingHooks) {
  return async function routes(app: FastifyInstance, { db, config }: AppServices): Promise<void> {
    const tracker = createTracker(db, {
      maxArrayAttributeValues: config.limits.arrayAttributeValues,
      group: trackGroupOptions(db.kind, config.limits),
    });
    registerGroupCommitMetrics(app.metrics, tracker.stats);
    app.post(
      '/users/track',
      {
        config: { permission: 'users.track', rateLimitName: 'track', itemStrings: true },
        schema: {
          tags: ['users'],
          summary: 'Record attributes, events and purchases (75 of each per request)',
          body: documented('{"attributes": [...], "events": [...], "purchases": [...]} — see docs/reference/rest-api.md §2'),
          response: responses(201),
        },
      },
      async (request, reply) => {
        const key = requireKey(request);
        return reply.status(201).send(await tracker.track(key.workspace_id, request.body));
      },
    );

    app.post(
      '/users/identify',
      {
        config: { permission: 'users.identify', rateLimitName: 'identifyAndAlias', itemStrings: true },
        schema: {
          tags: ['users'],
          summary: 'Identify alias profiles with an external id (merging into an existing user)',
          body: documented('{"aliases_to_identify": [{"external_id", "user_alias"}], "merge_behavior": "merge"|"none"}'),
          response: responses(201),
        },
      },
      async (request, reply) => {
        const key = requireKey(request);
        return reply.status(201).send(await identifyUsers(db, key.workspace_id, request.body, hooks.mergeParticipants));
      },
    );

    app.post(
      '/users/alias/new',
      {
        config: { permission: 'users.alias.new', rateLimitName: 'identifyAndAlias', itemStrings: true },
        schema: {
          tags: ['users'],
          summary: 'Add aliases to identified users, or create alias-only users',
          body: documented('{"user_aliases": [{"external_id"?, "alias_name", "alias_label"}]}'),
          response: responses(201),
        },
      },
      async (request, reply) => {
        const key = requireKey(request);
        return reply.status(201).send(await newAliases(db, key.workspace_id, request.body));
      },
    );

    app.post(
      '/users/export/ids',
      {
        config: { permission: 'users.export.ids', rateLimitName: 'exportIds' },
        schema: {
          tags: ['users'],
          summary: 'Look up profiles by external id, alias, device id, internal id or email',
          body: documented('{"external_ids", "user_aliases", "device_id", "braze_id", "email_address", "fields_to_export"}'),
          response: responses(200),
        },
      },
      async (request) => {
        const key = requireKey(request);
        return exportIds(db, key.workspace_id, request.body, hooks.profileExtensions);
      },
    );

    app.post(
      '/sdk/sessions/start',
      {
        config: { permission: 'sdk.sessions', rateLimitName: 'sdk' },
        schema: { tags: ['sdk'], summary: 'Start a session for a device (creates an anonymous user for a new device)', body: SessionStartBody, response: responses(201) },
      },
      async (request, reply) => {
        const key = requireKey(request);
        return reply.status(201).send(await startSession(db, key.workspace_id, request.body as SessionStartInput));
      },
    );

    app.post(
      '/sdk/sessions/end',
      {
        config: { permission: 'sdk.sessions', rateLimitName: 'sdk' },
        schema: { tags: ['sdk'], summary: 'End a session for a device', body: SessionEndBody, response: responses(201) },
      },
      async (request, reply) => {
        const key = requireKey(request);
        return reply.status(201).send(await endSession(db, key.workspace_id, request.body as SessionEndInput));
      },
    );

    app.post(
      '/sdk/users/change',
      {
        config: { permission: 'sdk.sessions', rateLimitName: 'sdk' },
        schema: { tags: ['sdk'], summary: "Change the device's user: identify its anonymous profile", body: ChangeUserBody, response: responses(201) },
      },
      async (request, reply) => {
        const key = requireKey(request);
        return reply.status(201).send(await changeUser(db, key.workspace_id, request.body as ChangeUserInput, hooks.mergeParticipants));
      },
    );
  };
}
