/** What the cohort routes share: the partner registry, the per-cohort queue and the partner rate limit. */
import type { Config } from '../config.js';
import type { FastifyRequest } from 'fastify';
import type { RateLimits } from '../http/index.js';
import { Errors } from '../http/index.js';
import type { Queryable } from '../storage/index.js';
import type { PartnerRegistry } from './partners.js';
import { KeyedQueue } from './queue.js';

export class CohortContext {
  readonly queue = new KeyedQueue();

  constructor(
    readonly partners: PartnerRegistry,
    readonly config: Config,
  ) {}

  /** Counts one request against the (workspace, partner) limit, shared by every process; returns the headers to send. */
  async rateLimit(limits: RateLimits, request: FastifyRequest, workspaceId: string, partner: string): Promise<Record<string, string>> {
    const decision = await limits.take(request, 'partnerCohorts', this.config.rateLimits.partnerCohorts, `${workspaceId}:${partner}`);
    if (!decision.allowed) throw Errors.rateLimited(decision.headers);
    return decision.headers;
  }
}

export async function partnerEnabled(db: Queryable, workspaceId: string, partner: string): Promise<boolean> {
  const { rows } = await db.query<{ enabled: boolean }>('SELECT enabled FROM partner_settings WHERE workspace_id = $1 AND partner = $2', [
    workspaceId,
    partner,
  ]);
  return rows[0]?.enabled ?? true;
}

export async function partnerSettings(db: Queryable, workspaceId: string, partner: string): Promise<Record<string, unknown>> {
  const { rows } = await db.query<{ settings: Record<string, unknown> }>(
    'SELECT settings FROM partner_settings WHERE workspace_id = $1 AND partner = $2',
    [workspaceId, partner],
  );
  return rows[0]?.settings ?? {};
}
