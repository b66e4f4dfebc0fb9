/**
 * Routes of the publish side: `POST /currents/events` for producers outside the core, and the
 * catalogue view the dashboard's connector form reads.
 */
import type { FastifyInstance } from 'fastify';
import type { AppServices } from '../../http/index.js';
import { requireKey } from '../../http/index.js';
import { eventTypeCatalogue } from './event-types.js';
import { publishEvents } from './publish.js';
import { ErrorBody } from '../../http/index.js';
import { EventTypeCatalogue, PublishResult } from '../contract.js';

export async function publishRoutes(app: FastifyInstance, { db, config }: AppServices): Promise<void> {
  app.post(
    '/currents/events',
    {
      bodyLimit: config.limits.currentsBodyBytes,
      config: { permission: 'currents.publish', rateLimitName: 'currentsPublish', itemStrings: true },
      schema: {
        tags: ['currents'],
        summary: 'Publish Currents-format events (at most 1,000 per request) to the event log',
        body: { type: 'object', description: '{"events": [{"event_type", "id", "time", "user", "properties"}]} — see docs/reference/currents.md §4', additionalProperties: true },
        response: {
          201: PublishResult,
          400: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const key = requireKey(request);
      return reply.status(201).send(await publishEvents(db, key.workspace_id, request.body));
    },
  );

  const catalogue = eventTypeCatalogue();
  app.get(
    '/admin/currents/event-types',
    { config: { permission: 'admin' }, schema: { tags: ['admin'], summary: 'The Currents event catalogue, grouped for the connector form', response: { 200: EventTypeCatalogue } } },
    async () => catalogue,
  );
}
