/** The user profile and the identifiers that point at one (docs/reference/rest-api.md §1). */

export interface UserAlias {
  alias_name: string;
  alias_label: string;
}

export type Identifier =
  | { kind: 'external_id'; externalId: string }
  | { kind: 'user_alias'; alias: UserAlias }
  | { kind: 'braze_id'; userId: string }
  | { kind: 'email'; email: string };

/** Standard profile fields stored in their own columns. */
export const STANDARD_FIELDS = [
  'email',
  'phone',
  'first_name',
  'last_name',
  'gender',
  'dob',
  'country',
  'language',
  'home_city',
  'time_zone',
  'email_subscribe',
  'push_subscribe',
] as const;
export type StandardField = (typeof STANDARD_FIELDS)[number];

export type StandardValues = { [F in StandardField]: string | null };

export interface User extends StandardValues {
  id: string;
  workspace_id: string;
  external_id: string | null;
  began_anonymous: boolean;
  custom_attributes: Record<string, unknown>;
  session_count: number;
  first_session_at: Date | null;
  last_session_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** Just what names a user in an event (see USER_REF_COLUMNS). */
export type UserRef = Pick<User, 'id' | 'workspace_id' | 'external_id' | 'time_zone'>;

export function identifierKey(id: Identifier): string {
  switch (id.kind) {
    case 'external_id':
      return `e:${id.externalId}`;
    case 'user_alias':
      return `a:${id.alias.alias_label}\u0000${id.alias.alias_name}`;
    case 'braze_id':
      return `b:${id.userId}`;
    case 'email':
      return `m:${id.email.toLowerCase()}`;
  }
}
