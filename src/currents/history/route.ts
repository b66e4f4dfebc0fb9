/**
 * `GET /admin/currents/:id/history?from&to&resolution`: a Current's delivery history
 * (docs/reference/currents.md §3, "History") — per minute for the last 48 hours, per hour for 30 days.
 */
import type { FastifyInstance } from 'fastify';
import { ApiError, requireKey } from '../../http/index.js';
import type { Queryable } from '../../storage/index.js';
import type { Connector } from '../connectors/store.js';
import { History, HistoryQuery } from '../contract.js';
import { HOUR_MS, MINUTE_MS, toPoints } from './minutes.js';
import { HISTORY_KEPT_MS, MINUTES_KEPT_MS, readHistory, type Resolution } from './store.js';

const DEFAULT_SPAN_MS = 6 * HOUR_MS;
/** At most this many points in one answer (a week of minutes). */
const MAX_POINTS = 7 * 24 * 60;

export function parseHistoryQuery(q: { from?: string; to?: string; resolution?: string }, now = Date.now()): { from: Date; to: Date; resolution: Resolution } {
  const to = q.to ? new Date(q.to) : new Date(now);
  const from = q.from ? new Date(q.from) : new Date(to.getTime() - DEFAULT_SPAN_MS);
  if (Number.isNaN(to.getTime())) throw new ApiError(400, '"to" is not a date-time', [{ type: 'date-time', path: 'to' }]);
  if (Number.isNaN(from.getTime())) throw new ApiError(400, '"from" is not a date-time', [{ type: 'date-time', path: 'from' }]);
  if (from.getTime() >= to.getTime()) throw new ApiError(400, '"from" must be before "to"', [{ type: 'from before to', path: 'from' }]);
  const span = to.getTime() - from.getTime();
  const resolution: Resolution = q.resolution === 'minute' || q.resolution === 'hour' ? q.resolution : span <= MINUTES_KEPT_MS ? 'minute' : 'hour';
  if (span / (resolution === 'minute' ? MINUTE_MS : HOUR_MS) > MAX_POINTS) {
    throw new ApiError(400, `at most ${MAX_POINTS} points per request: shorten the range or ask for resolution=hour`, [{ type: 'range too long', path: 'from' }]);
  }
  return { from, to, resolution };
}

export function historyRoute(app: FastifyInstance, db: Queryable, find: (request: { params: unknown }, workspaceId: string) => Promise<Connector>): void {
  app.get(
    '/admin/currents/:id/history',
    {
      config: { permission: 'admin' as const },
      schema: {
        tags: ['admin'],
        summary: 'Delivery history: sent, skipped by reason, failed requests, dead-lettered, lag and request latency, per minute (48 h) or hour (30 days)',
        params: { type: 'object', properties: { id: { type: 'string', maxLength: 64 } }, required: ['id'] },
        querystring: HistoryQuery,
        response: { 200: History },
      },
    },
    async (request) => {
      const key = requireKey(request);
      const c = await find(request, key.workspace_id);
      const { from, to, resolution } = parseHistoryQuery(request.query as { from?: string; to?: string; resolution?: string });
      const rows = await readHistory(db, c.id, from, to, resolution);
      return {
        resolution,
        from: from.toISOString(),
        to: to.toISOString(),
        minutes_kept_hours: MINUTES_KEPT_MS / HOUR_MS,
        kept_days: HISTORY_KEPT_MS / (24 * HOUR_MS),
        points: toPoints(rows),
      };
    },
  );
}
