/**
 * The partner cohort API (docs/reference/cohort-import.md §1): `POST /partners/{partner}/cohorts` creates or
 * renames a cohort, `POST /partners/{partner}/cohorts/users` applies membership deltas. Both keys
 * travel in the body. Checks run in the documented order; any failure leaves state unchanged.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppServices } from '../http/index.js';
import { credentialPrefix, type AuthFailureThrottle } from '../http/index.js';
import { ApiError } from '../http/index.js';
import { CohortLocked, DomainError } from '../errors/index.js';
import { applyWithFallback } from '../storage/index.js';
import { isRetryableConflict, isStoreUnavailable, isUniqueViolation, transactionWithRetry, type Db, type Queryable } from '../storage/index.js';
import { planDeltas, writeGroup, type MembershipOutcome } from './apply.js';
import type { RateLimits } from '../http/index.js';
import { partnerEnabled as partnerIsEnabled, type CohortContext } from './context.js';
import { findImportKeyAccess, type DataImportKey } from './import-keys.js';
import { checkCohortChanges, checkCohortName, Messages, readCredentials, type CohortChangesInput } from './partner-payload.js';
import type { Batch, Turn } from './queue.js';
import { matchGroup, reduceGroup, type ResolvedChanges } from './resolve.js';
import { findCohort, lockCohortMembers, upsertCohort, type Cohort } from './store.js';
import { recordSync, type SyncRecord } from './sync-history.js';
import { classifyRefusedKey, recordRejection, type RejectionReason } from './sync-rejections.js';
import { PartnerCohortNamed, PartnerCohortUsers } from './contract.js';

interface Client {
  request: FastifyRequest;
  throttle: AuthFailureThrottle;
  limits: RateLimits;
}

interface Authorized {
  key: DataImportKey;
  body: Record<string, unknown>;
  rateHeaders: Record<string, string>;
  /** The workspace's cohort named by the body's `cohort_id` (read with the key), when it exists. */
  cohort: { partnerCohortId: string | null; found: Cohort | undefined };
}

/**
 * Auth fields → partner key → client secret → partner enabled → rate limit. The key, the partner
 * setting and the cohort the body names are read in one statement (findImportKeyAccess); the
 * cohort is only looked at once the rest has passed.
 */
export async function authorizePartner(db: Db, ctx: CohortContext, partner: string, body: unknown, client: Client): Promise<Authorized> {
  let creds: ReturnType<typeof readCredentials>;
  try {
    creds = readCredentials(body);
  } catch (err) {
    if (err instanceof ApiError && err.statusCode === 401 && ctx.partners.get(partner)) {
      await recordRejection(db, { workspaceId: null, partner, source: 'partner_api', keyPrefix: null, reason: 'no_credentials', status: 401, message: err.message }, (e) =>
        client.request.log.warn({ err: e }, 'recording a rejected partner request'),
      );
    }
    throw err;
  }
  // A failure slot of (address, the client secret's prefix), given back once both secrets are valid.
  const slot = await client.throttle.reserve(client.request.ip, credentialPrefix(creds.clientSecret));
  // Every refusal is recorded (sync-rejections.ts), for the partner page; recording never changes the answer.
  const refuse = async (message: string, known?: { workspaceId: string; keyPrefix: string; reason: RejectionReason }): Promise<never> => {
    if (ctx.partners.get(partner)) {
      const refused = known ?? (await classifyRefusedKey(db, creds.clientSecret, partner, (ws) => partnerIsEnabled(db, ws, partner)).catch(() => null));
      if (refused) {
        const reason: RejectionReason = message === Messages.invalidPartnerKey ? 'invalid_partner_key' : refused.reason;
        await recordRejection(db, { ...refused, reason, partner, source: 'partner_api', status: 401, message }, (err) => client.request.log.warn({ err }, 'recording a rejected partner request'));
      }
    }
    throw new ApiError(401, message);
  };
  if (!ctx.partners.get(partner) || !ctx.partners.verifyPartnerKey(partner, creds.partnerApiKey)) {
    return refuse(Messages.invalidPartnerKey);
  }
  const named = (body as Record<string, unknown>).cohort_id;
  const partnerCohortId = typeof named === 'string' && named.length >= 1 && named.length <= 255 ? named : null;
  const access = await findImportKeyAccess(db, creds.clientSecret, partner, partnerCohortId);
  if (!access) return refuse(Messages.invalidClientSecret);
  await slot.release();
  const key = access.key;
  if (key.partner !== partner || !access.partnerEnabled) {
    return refuse(`Partner not enabled for client with client secret: ${key.prefix}…`, {
      workspaceId: key.workspace_id,
      keyPrefix: key.prefix,
      reason: key.partner !== partner ? 'wrong_partner' : 'partner_disabled',
    });
  }
  const rateHeaders = await ctx.rateLimit(client.limits, client.request, key.workspace_id, partner);
  return { key, body: body as Record<string, unknown>, rateHeaders, cohort: { partnerCohortId, found: access.cohort } };
}

const routeConfig = { invalidBodyMessage: Messages.notAnObject };

/** An authenticated request refused for its body, recorded with the key that sent it (sync-rejections.ts). */
function payloadRejected(db: Db, auth: Authorized, partner: string, reason: RejectionReason, err: ApiError, request: FastifyRequest): Promise<void> {
  return recordRejection(
    db,
    { workspaceId: auth.key.workspace_id, partner, source: 'partner_api', keyPrefix: auth.key.prefix, reason, status: err.statusCode, message: err.message },
    (e) => request.log.warn({ err: e }, 'recording a rejected partner request'),
  );
}

export function partnerApiRoutes(ctx: CohortContext) {
  return async function routes(app: FastifyInstance, { db, authThrottle, limits }: AppServices): Promise<void> {
    const bodyLimit = ctx.config.limits.cohortBodyBytes;
    const deltas = deltaBatch(db, ctx.config.limits.cohortLockTimeoutMs);

    app.post(
      '/partners/:partner/cohorts',
      {
        bodyLimit,
        config: routeConfig,
        schema: {
          tags: ['partners'],
          summary: 'Cohort name endpoint: create a cohort or rename it',
          response: { 201: PartnerCohortNamed },
          security: [],
          body: { type: 'object', description: '{partner_api_key, client_secret, cohort_id, name, created_at}', additionalProperties: true },
        },
      },
      async (request, reply) => {
        const { partner } = request.params as { partner: string };
        const auth = await authorizePartner(db, ctx, partner, request.body, { request, throttle: authThrottle, limits });
        let input;
        try {
          input = checkCohortName(auth.body);
        } catch (err) {
          if (err instanceof ApiError) await payloadRejected(db, auth, partner, 'invalid_payload', err, request);
          throw err;
        }
        const ws = auth.key.workspace_id;
        const named = await transactionWithRetry(db, async (tx) => {
          const result = await upsertCohort(tx, {
            workspaceId: ws,
            partner,
            partnerCohortId: input.cohortId,
            name: input.name,
            createdAt: input.createdAt,
            maxCohorts: ctx.config.limits.cohortsPerWorkspace,
          });
          if (result.created || result.renamed) {
            await recordSync(tx, {
              workspaceId: ws,
              partner,
              source: 'partner_api',
              cohortId: result.cohort.id,
              partnerCohortId: input.cohortId,
              action: result.created ? 'create' : 'rename',
              status: 'applied',
            });
          }
          return result;
        });
        return send(reply, auth, 201, { message: 'success', cohort_id: input.cohortId, name: named.cohort.name, created: named.created });
      },
    );

    app.post(
      '/partners/:partner/cohorts/users',
      {
        bodyLimit,
        config: routeConfig,
        schema: {
          tags: ['partners'],
          summary: 'User cohort endpoint: add or remove members (1,000 identifiers per request)',
          response: { 201: PartnerCohortUsers },
          security: [],
          body: { type: 'object', description: '{partner_api_key, client_secret, cohort_id, cohort_changes: [{user_ids, device_ids, aliases, should_remove}]}', additionalProperties: true },
        },
      },
      async (request, reply) => {
        const { partner } = request.params as { partner: string };
        const auth = await authorizePartner(db, ctx, partner, request.body, { request, throttle: authThrottle, limits });
        const ws = auth.key.workspace_id;
        let input;
        try {
          input = checkCohortChanges(auth.body);
        } catch (err) {
          if (err instanceof ApiError) {
            const cohortId = typeof auth.body.cohort_id === 'string' ? auth.body.cohort_id.slice(0, 255) : null;
            await recordSync(db, { workspaceId: ws, partner, source: 'partner_api', partnerCohortId: cohortId, action: 'delta', status: 'rejected', error: err.message });
            await payloadRejected(db, auth, partner, 'invalid_payload', err, request);
          }
          throw err;
        }
        const cohort = auth.cohort.partnerCohortId === input.cohortId ? auth.cohort.found : await findCohort(db, ws, partner, input.cohortId);
        if (!cohort) {
          if (input.entries.length === 0) {
            return send(reply, auth, 201, emptyResult(input.cohortId));
          }
          await recordSync(db, { workspaceId: ws, partner, source: 'partner_api', partnerCohortId: input.cohortId, action: 'delta', status: 'rejected', error: Messages.unknownCohort });
          const unknown = new ApiError(400, Messages.unknownCohort, [{ type: Messages.unknownCohort, path: 'cohort_id' }]);
          await payloadRejected(db, auth, partner, 'unknown_cohort', unknown, request);
          throw unknown;
        }
        const result = await ctx.queue.runBatched(cohort.id, deltas, { workspaceId: ws, partner, cohort, input });
        const applied = result.outcome.added + result.outcome.removed;
        return send(reply, auth, 201, {
          message: 'success',
          cohort_id: input.cohortId,
          received: result.resolved.received,
          matched: result.resolved.matched,
          unmatched: result.resolved.unmatched.not_found + result.resolved.unmatched.device_id_of_identified_user,
          added: result.outcome.added,
          removed: result.outcome.removed,
          unchanged: result.outcome.unchanged,
          applied,
          data_points: applied,
          unmatched_reasons: result.resolved.unmatched,
          unmatched_identifiers: result.resolved.unmatchedIdentifiers,
        });
      },
    );
  };
}

interface DeltaRequest {
  workspaceId: string;
  partner: string;
  cohort: Cohort;
  input: CohortChangesInput;
}

interface DeltaResult {
  resolved: ResolvedChanges;
  outcome: MembershipOutcome;
}

/** Requests to one cohort that wait together are applied in one transaction (group commit). */
const MAX_GROUP = 16;

/** The group before this one did not commit: roll back and start again once it has settled. */
class PreviousGroupFailed extends Error {}

/**
 * Group commit of partner requests to one cohort (see KeyedQueue): the requests waiting at the head
 * of the cohort's queue are matched and applied in one transaction, in arrival order, each with
 * its own exact counts and sync-history row. A request is still all or nothing: if the group's
 * transaction fails, nothing of it was applied, and each request is applied again alone
 * (applyWithFallback), so one bad request cannot fail the others. A failure that would fail each
 * alone as well (the cohort locked elsewhere: 423; gone: 400; the store unreachable: 503) fails
 * the group at once.
 *
 * One transaction, four statements whatever the group's size: the matching of every request's
 * identifiers, which locks the users found (matchGroup); the cohort's lock with the current
 * membership of those users (lockCohortMembers); then, after the replay of the requests in memory
 * (planDeltas), one write of the net change, the ledger and the history rows (writeGroup); COMMIT.
 *
 * Pipelined on PostgreSQL (see Turn): the matching needs no cohort lock, so the next group matches
 * its identifiers while this one writes, and waits for the cohort's lock behind it. It writes only
 * once this group's transaction has committed; if it did not, the next group rolls back and starts
 * again after this one has settled (its retries and its requests one by one come first).
 */
function deltaBatch(db: Db, lockTimeoutMs: number): Batch<DeltaRequest, DeltaResult> {
  const applyOnce = async (tx: Queryable, items: DeltaRequest[], turn?: Turn): Promise<DeltaResult[]> => {
    const cohort = items[0]!.cohort;
    const requests = items.map((item) => item.input.entries);
    const matched = await matchGroup(tx, cohort.workspace_id, requests);
    const members = await lockCohortMembers(tx, cohort.id, lockTimeoutMs, matched.users);
    if (turn) {
      if (!(await turn.previousCommitted())) throw new PreviousGroupFailed();
      turn.proceeding();
    }
    const resolved = reduceGroup(requests, matched);
    const plan = planDeltas(
      members,
      resolved.map((r) => r.wanted),
    );
    const syncs: SyncRecord[] = items.map((item, i) => ({
      workspaceId: item.workspaceId,
      partner: item.partner,
      source: 'partner_api' as const,
      cohortId: cohort.id,
      partnerCohortId: item.input.cohortId,
      action: 'delta',
      status: 'applied' as const,
      received: resolved[i]!.received,
      matched: resolved[i]!.matched,
      unmatchedNotFound: resolved[i]!.unmatched.not_found,
      unmatchedDeviceIdOfIdentifiedUser: resolved[i]!.unmatched.device_id_of_identified_user,
      ...plan.outcomes[i]!,
    }));
    await writeGroup(tx, cohort, plan, 'partner_api', syncs);
    return items.map((_, i) => ({ resolved: resolved[i]!, outcome: plan.outcomes[i]! }));
  };
  // A unique violation means a membership appeared under the transaction: re-run it whole.
  const retryOn = (err: unknown) => isRetryableConflict(err) || isUniqueViolation(err);
  const failsEachAlone = (err: unknown) => err instanceof ApiError || err instanceof DomainError || isStoreUnavailable(err);
  const applyGroup = (items: DeltaRequest[]) => transactionWithRetry(db, (tx) => applyOnce(tx, items), { retryOn });
  // PGlite runs one transaction at a time: a group started early would only wait, and be smaller.
  const pipelines = db.kind !== 'pglite';

  return {
    maxItems: MAX_GROUP,
    async apply(items, turn) {
      try {
        const values = await db.transaction((tx) => applyOnce(tx, items, pipelines ? turn : undefined));
        turn.firstAttemptEnded(true);
        return values.map((value) => ({ ok: true as const, value }));
      } catch (err) {
        turn.firstAttemptEnded(false);
        // Nothing below may overtake the group before this one.
        await turn.previousSettled();
        // Waiting for the lock behind the group before this one is not "locked elsewhere".
        const behindPrevious = err instanceof PreviousGroupFailed || (turn.pipelined && err instanceof CohortLocked);
        if (!behindPrevious && !retryOn(err) && failsEachAlone(err)) return items.map(() => ({ ok: false as const, error: err }));
      }
      return applyWithFallback(items, applyGroup, failsEachAlone);
    },
  };
}

function emptyResult(cohortId: string) {
  return {
    message: 'success',
    cohort_id: cohortId,
    received: 0,
    matched: 0,
    unmatched: 0,
    added: 0,
    removed: 0,
    unchanged: 0,
    applied: 0,
    data_points: 0,
    unmatched_reasons: { not_found: 0, device_id_of_identified_user: 0 },
    unmatched_identifiers: { user_ids: [], device_ids: [], aliases: [] },
  };
}

function send(reply: FastifyReply, auth: Authorized, status: number, body: unknown) {
  return reply.headers(auth.rateHeaders).status(status).send(body);
}
