/** `POST /users/export/ids` (docs/reference/rest-api.md §5): look up profiles by any identifier. */
import { ApiError, Errors } from '../http/index.js';
import {
  buildProfiles,
  CORE_PROFILE_FIELDS,
  userByDeviceId,
  userByEmail,
  usersByAliases,
  usersByExternalIds,
  usersByIds,
  type ProfileExtension,
  type User,
  type UserAlias,
} from '../identity/index.js';
import type { Db } from '../storage/index.js';
import { isPlainObject } from './json-shape.js';
import { checkAlias, isValidEmail } from './validate.js';

export const MAX_EXPORT_IDS = 50;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface ExportResponse {
  message: 'success';
  users: Record<string, unknown>[];
  invalid_user_ids: unknown[];
}

interface Request {
  externalIds: string[];
  aliases: UserAlias[];
  deviceId?: string;
  brazeId?: string;
  email?: string;
  fields: Set<string>;
}

function parse(body: unknown, knownFields: readonly string[]): Request {
  if (!isPlainObject(body)) throw Errors.invalidJson('the body must be a JSON object');
  const problems: { type: string; path: string }[] = [];
  const externalIds: string[] = [];
  const aliases: UserAlias[] = [];
  if (body.external_ids !== undefined) {
    if (!Array.isArray(body.external_ids)) problems.push({ type: 'external_ids must be an array of strings', path: 'external_ids' });
    else
      body.external_ids.forEach((v, i) => {
        if (typeof v === 'string' && v.length) externalIds.push(v);
        else problems.push({ type: 'invalid external_id', path: `external_ids[${i}]` });
      });
  }
  if (body.user_aliases !== undefined) {
    if (!Array.isArray(body.user_aliases)) problems.push({ type: 'user_aliases must be an array', path: 'user_aliases' });
    else
      body.user_aliases.forEach((v, i) => {
        const a = checkAlias(v);
        if (a) aliases.push(a);
        else problems.push({ type: 'invalid user_alias', path: `user_aliases[${i}]` });
      });
  }
  const single = (field: string, ok: (v: unknown) => boolean): string | undefined => {
    const v = body[field];
    if (v === undefined || v === null) return undefined;
    if (!ok(v)) problems.push({ type: `invalid ${field}`, path: field });
    return v as string;
  };
  const deviceId = single('device_id', (v) => typeof v === 'string' && v.length > 0 && v.length <= 255);
  const brazeId = single('braze_id', (v) => typeof v === 'string' && UUID_RE.test(v));
  const email = single('email_address', isValidEmail);
  let fields = new Set<string>(knownFields);
  if (body.fields_to_export !== undefined) {
    if (!Array.isArray(body.fields_to_export) || !body.fields_to_export.every((f) => typeof f === 'string')) {
      problems.push({ type: 'fields_to_export must be an array of strings', path: 'fields_to_export' });
    } else {
      const unknown = body.fields_to_export.filter((f) => !knownFields.includes(f as string));
      for (const f of unknown) problems.push({ type: `unknown field ${String(f).slice(0, 100)}`, path: 'fields_to_export' });
      fields = new Set(body.fields_to_export as string[]);
    }
  }
  if (problems.length) throw new ApiError(400, problems[0]!.type, problems);
  if (externalIds.length + aliases.length > MAX_EXPORT_IDS) {
    throw new ApiError(400, 'The max number of ids per request was exceeded', [
      { type: `${externalIds.length + aliases.length} external_ids and user_aliases; at most ${MAX_EXPORT_IDS}` },
    ]);
  }
  if (!externalIds.length && !aliases.length && !deviceId && !brazeId && !email) {
    throw Errors.badRequest('At least one identifier is required: external_ids, user_aliases, device_id, braze_id or email_address');
  }
  return { externalIds, aliases, deviceId, brazeId, email, fields } as Request;
}

export async function exportIds(db: Db, workspaceId: string, body: unknown, extensions: readonly ProfileExtension[]): Promise<ExportResponse> {
  const knownFields = [...CORE_PROFILE_FIELDS, ...extensions.map((e) => e.field)];
  const req = parse(body, knownFields);
  return db.transaction(async (tx) => {
    const found = new Map<string, User>();
    const invalid: unknown[] = [];
    const byExt = new Map((await usersByExternalIds(tx, workspaceId, req.externalIds)).map((u) => [u.external_id, u]));
    for (const id of req.externalIds) {
      const u = byExt.get(id);
      if (u) found.set(u.id, u);
      else invalid.push(id);
    }
    const byAlias = await usersByAliases(tx, workspaceId, req.aliases);
    for (const a of req.aliases) {
      const u = byAlias.find((x) => x.alias_label === a.alias_label && x.alias_name === a.alias_name);
      if (u) {
        const { alias_name: _n, alias_label: _l, ...user } = u;
        found.set(user.id, user);
      } else invalid.push(a);
    }
    const one = async (value: string | undefined, lookup: (v: string) => Promise<User | undefined>) => {
      if (value === undefined) return;
      const u = await lookup(value);
      if (u) found.set(u.id, u);
      else invalid.push(value);
    };
    await one(req.deviceId, (v) => userByDeviceId(tx, workspaceId, v));
    await one(req.brazeId, async (v) => (await usersByIds(tx, workspaceId, [v.toLowerCase()]))[0]);
    await one(req.email, (v) => userByEmail(tx, workspaceId, v));
    const users = await buildProfiles(tx, [...found.values()], req.fields, extensions);
    return { message: 'success', users, invalid_user_ids: invalid };
  });
}
