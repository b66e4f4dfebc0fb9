/**
 * The workspace's delivery settings (docs/reference/campaigns.md, "Frequency cap and quiet hours"):
 * `GET|PUT /admin/campaigns-settings/frequency-capping` (admin key).
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { AppServices } from '../http/index.js';
import { ApiError, requireKey } from '../http/index.js';
import type { Db } from '../storage/index.js';
import { checkFrequencyRules } from './gate-rules.js';
import { getFrequencyRules, setFrequencyRules } from './gates.js';

const Rule = Type.Object({ channel: Type.Union([Type.Literal('email'), Type.Literal('webhook'), Type.Literal('any')]), count: Type.Integer(), window_seconds: Type.Integer() });
const Rules = Type.Object({ rules: Type.Array(Rule) });

export function deliverySettingsRoutes(deps: { db: Db }) {
  return async function routes(app: FastifyInstance, _services: AppServices): Promise<void> {
    const config = { permission: 'admin' as const };
    const tags = ['campaigns'];
    app.get('/admin/campaigns-settings/frequency-capping', { config, schema: { tags, summary: "The workspace's global frequency-cap rules", response: { 200: Rules } } }, async (request) => {
      return { rules: await getFrequencyRules(deps.db, requireKey(request).workspace_id) };
    });
    app.put(
      '/admin/campaigns-settings/frequency-capping',
      { config, schema: { tags, summary: "Replace the workspace's global frequency-cap rules (at most 10)", body: Type.Object({ rules: Type.Array(Type.Unknown(), { maxItems: 10 }) }, { additionalProperties: false }), response: { 200: Rules } } },
      async (request) => {
        const problems: Array<{ field: string; message: string }> = [];
        const rules = checkFrequencyRules((request.body as { rules: unknown }).rules, problems);
        if (!rules || problems.length) throw new ApiError(400, `${problems[0]!.field}: ${problems[0]!.message}`, problems.map((p) => ({ type: p.message, path: p.field })));
        await setFrequencyRules(deps.db, requireKey(request).workspace_id, rules);
        return { rules };
      },
    );
  };
}
