/**
 * Mixpanel's custom-webhook cohort sync, receiver side (docs/reference/cohort-import.md §4):
 * `POST /partners/mixpanel/webhook` with Basic auth whose password is the workspace's Mixpanel
 * data import key. `members` pages are staged per session and applied as one replacement once
 * every page has arrived; `add_members` / `remove_members` apply at once. Every reply has the
 * shape Mixpanel expects, failures included.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import type { AppServices } from '../http/index.js';
import { credentialPrefix } from '../http/index.js';
import { ApiError, apiErrorOf } from '../http/index.js';
import { DomainError } from '../errors/index.js';
import { isStoreUnavailable, transactionWithRetry, type Db } from '../storage/index.js';
import { applyDelta, applyReplacement, type MembershipOutcome } from './apply.js';
import { partnerEnabled, partnerSettings, type CohortContext } from './context.js';
import { findActiveImportKey } from './import-keys.js';
import { resolveMembers, type ResolvedMembers } from './match-members.js';
import { MIXPANEL } from './partners.js';
import { lockCohort, upsertCohort } from './store.js';
import { recordSync } from './sync-history.js';
import { classifyRefusedKey, recordRejection } from './sync-rejections.js';
import { checkWebhookMessage, memberIdentifier, parseMatchKey, WebhookInvalid, type MatchKey, type WebhookMessage } from './webhook-payload.js';
import { WebhookFailureBody, WebhookSuccess } from './contract.js';

export const WEBHOOK_PATH = '/partners/mixpanel/webhook';
/** A `members` session whose last page never arrives is dropped this long after its latest page. */
export const STAGED_SESSION_TTL_HOURS = 72;

class WebhookFailure extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

function basicPassword(header: string | undefined): string | undefined {
  const m = header ? /^Basic ([A-Za-z0-9+/=]{1,1024})$/i.exec(header.trim()) : null;
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(colon + 1) : undefined;
}

export function webhookRoutes(ctx: CohortContext) {
  return async function routes(app: FastifyInstance, { db, authThrottle, limits }: AppServices): Promise<void> {
    // Mixpanel reads `status` and `error` from every reply, so failures keep its shape too.
    app.setErrorHandler((err: FastifyError | Error, request, reply) => {
      const action = typeof (request.body as { action?: unknown } | undefined)?.action === 'string' ? (request.body as { action: string }).action : 'unknown';
      let code = 500;
      let message = 'internal error';
      let headers: Record<string, string> = {};
      if (err instanceof WebhookFailure) ({ code, message, headers } = err);
      else if (err instanceof ApiError || err instanceof DomainError) ({ statusCode: code, message, headers } = apiErrorOf(err));
      else if (isStoreUnavailable(err)) [code, message] = [503, 'Service temporarily unavailable'];
      else if ((err as FastifyError).code === 'FST_ERR_CTP_BODY_TOO_LARGE') [code, message] = [413, 'Request body too large'];
      else if ((err as FastifyError).code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') [code, message] = [415, 'Content-Type must be application/json'];
      else if ((err as FastifyError).statusCode === 400) [code, message] = [400, 'body is not valid JSON'];
      if (code === 423) [code, message] = [503, 'cohort is locked by another sync; retry'];
      if (code >= 500 && code !== 503) request.log.error({ err }, 'webhook failed');
      reply.headers(headers).status(code).send({ action, status: 'failure', error: { message, code } });
    });

    app.post(
      WEBHOOK_PATH,
      {
        bodyLimit: ctx.config.limits.webhookBodyBytes,
        schema: {
          tags: ['partners'],
          summary: "Mixpanel custom-webhook cohort sync (Basic auth: password = the Mixpanel data import key)",
          security: [],
          response: { 200: WebhookSuccess, '4xx': WebhookFailureBody, '5xx': WebhookFailureBody },
        },
      },
      async (request, reply) => {
        const secret = basicPassword(request.headers.authorization);
        const slot = await authThrottle.reserve(request.ip, credentialPrefix(secret));
        const key = secret ? await findActiveImportKey(db, secret) : undefined;
        if (!key || key.partner !== MIXPANEL.slug || !(await partnerEnabled(db, key.workspace_id, MIXPANEL.slug))) {
          const message = 'missing or invalid credentials: use the Mixpanel data import key as the Basic auth password';
          // Recorded so that a rotated key shows on the partner page instead of a sync that silently stops.
          const refused = await classifyRefusedKey(db, secret, MIXPANEL.slug, (ws) => partnerEnabled(db, ws, MIXPANEL.slug)).catch(() => null);
          if (refused) await recordRejection(db, { ...refused, partner: MIXPANEL.slug, source: 'webhook', status: 401, message }, (err) => request.log.warn({ err }, 'recording a rejected webhook'));
          throw new WebhookFailure(401, message);
        }
        await slot.release();
        const rateHeaders = await ctx.rateLimit(limits, request, key.workspace_id, MIXPANEL.slug);
        let message: WebhookMessage;
        try {
          message = checkWebhookMessage(request.body);
        } catch (err) {
          if (err instanceof WebhookInvalid) {
            await recordRejection(
              db,
              { workspaceId: key.workspace_id, partner: MIXPANEL.slug, source: 'webhook', keyPrefix: key.prefix, reason: 'invalid_payload', status: 400, message: err.message },
              (e) => request.log.warn({ err: e }, 'recording a rejected webhook'),
            );
            throw new WebhookFailure(400, err.message, rateHeaders);
          }
          throw err;
        }
        const matchKey = parseMatchKey((await partnerSettings(db, key.workspace_id, MIXPANEL.slug)).match_key) ?? { kind: 'distinct_id' };
        await receive(db, ctx, key.workspace_id, message, matchKey);
        return reply.headers(rateHeaders).status(200).send({ action: message.action, status: 'success' });
      },
    );
  };
}

async function receive(db: Db, ctx: CohortContext, workspaceId: string, m: WebhookMessage, matchKey: MatchKey): Promise<void> {
  const partnerCohortId = `${m.projectId}:${m.cohortId}`;
  const cohort = await transactionWithRetry(db, async (tx) =>
    (
      await upsertCohort(tx, {
        workspaceId,
        partner: MIXPANEL.slug,
        partnerCohortId,
        name: m.cohortName,
        createdAt: new Date(),
        description: m.cohortDescription ?? null,
        maxCohorts: ctx.config.limits.cohortsPerWorkspace,
      })
    ).cohort,
  );
  const identifiers = m.members.map((member) => memberIdentifier(member, matchKey));
  const base = { workspaceId, partner: MIXPANEL.slug, source: 'webhook' as const, cohortId: cohort.id, partnerCohortId, action: m.action };
  await ctx.queue.run(cohort.id, () =>
    transactionWithRetry(db, async (tx) => {
      await lockCohort(tx, cohort.id, ctx.config.limits.cohortLockTimeoutMs);
      if (m.action !== 'members') {
        const resolved = await resolveMembers(tx, workspaceId, identifiers, matchKey);
        const wanted = new Map(resolved.userIds.map((u) => [u, m.action === 'add_members']));
        const outcome = await applyDelta(tx, cohort, wanted, 'webhook');
        await recordSync(tx, { ...base, status: 'applied', ...counts(resolved, outcome) });
        return;
      }
      await tx.query(
        `INSERT INTO webhook_pages (cohort_id, session_id, page, total_pages, identifiers) VALUES ($1, $2, $3, $4, $5::text[])
         ON CONFLICT (cohort_id, session_id, page) DO UPDATE SET total_pages = EXCLUDED.total_pages,
           identifiers = EXCLUDED.identifiers, received_at = now()`,
        [cohort.id, m.sessionId, m.page, m.totalPages, identifiers.map((i) => i ?? '')],
      );
      const pages = await tx.query<{ page: number; identifiers: string[] }>(
        'SELECT page, identifiers FROM webhook_pages WHERE cohort_id = $1 AND session_id = $2 AND page BETWEEN 1 AND $3 ORDER BY page',
        [cohort.id, m.sessionId, m.totalPages],
      );
      if (pages.rows.length < m.totalPages) {
        await recordSync(tx, { ...base, status: 'staged', received: identifiers.length, details: { session_id: m.sessionId, page: m.page, total_pages: m.totalPages } });
        return;
      }
      const all = pages.rows.flatMap((p) => p.identifiers.map((i) => (i === '' ? undefined : i)));
      const resolved = await resolveMembers(tx, workspaceId, all, matchKey);
      const outcome = await applyReplacement(tx, cohort, resolved.userIds, 'webhook');
      await tx.query('DELETE FROM webhook_pages WHERE cohort_id = $1 AND session_id = $2', [cohort.id, m.sessionId]);
      await recordSync(tx, { ...base, action: 'members', status: 'applied', ...counts(resolved, outcome), details: { session_id: m.sessionId, pages: m.totalPages } });
    }),
  );
}

function counts(r: ResolvedMembers, o: MembershipOutcome) {
  return { received: r.received, matched: r.matched, unmatchedNotFound: r.notFound, added: o.added, removed: o.removed, unchanged: o.unchanged };
}

/** Drops staged sessions whose latest page is older than the TTL, recording each as incomplete. */
export async function expireStagedSessions(db: Db, ttlHours = STAGED_SESSION_TTL_HOURS): Promise<number> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<{ cohort_id: string; session_id: string; workspace_id: string; partner_cohort_id: string; pages: number; total: number }>(
      `DELETE FROM webhook_pages p USING cohorts c
        WHERE c.id = p.cohort_id AND (p.cohort_id, p.session_id) IN (
          SELECT cohort_id, session_id FROM webhook_pages GROUP BY cohort_id, session_id
           HAVING max(received_at) < now() - make_interval(hours => $1))
        RETURNING p.cohort_id, p.session_id, c.workspace_id, c.partner_cohort_id, 1 AS pages, p.total_pages AS total`,
      [ttlHours],
    );
    const sessions = new Map<string, (typeof rows)[number] & { count: number }>();
    for (const r of rows) {
      const k = `${r.cohort_id}\u0000${r.session_id}`;
      const s = sessions.get(k) ?? { ...r, count: 0 };
      s.count++;
      sessions.set(k, s);
    }
    for (const s of sessions.values()) {
      await recordSync(tx, {
        workspaceId: s.workspace_id,
        partner: MIXPANEL.slug,
        source: 'webhook',
        cohortId: s.cohort_id,
        partnerCohortId: s.partner_cohort_id,
        action: 'members',
        status: 'incomplete',
        error: `session ${s.session_id} expired with ${s.count} of ${s.total} pages`,
      });
    }
    return sessions.size;
  });
}
