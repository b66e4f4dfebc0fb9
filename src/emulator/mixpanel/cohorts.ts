/**
 * The people side of an emulated Mixpanel project: profiles (distinct id → properties) and cohorts
 * of distinct ids. The engage query API reads it and the webhook sender exports it
 * (docs/reference/mixpanel-apis.md §9, §10). As in Mixpanel, a cohort may hold ids that have no profile; those
 * appear only when a query asks for `include_all_users`.
 */

export type Properties = Record<string, unknown>;

export interface CohortMemberInput {
  distinctId: string;
  /** Profile properties to set (merged over the existing profile); absent leaves the profile as is. */
  properties?: Properties;
}

export interface Cohort {
  id: string;
  projectId: string;
  name: string;
  description: string;
  /** Epoch ms. */
  createdMs: number;
  isVisible: boolean;
  /** Distinct ids in insertion order. */
  members: Set<string>;
}

export interface CohortInput {
  id?: string;
  name: string;
  description?: string;
  isVisible?: boolean;
  members: readonly CohortMemberInput[];
}

export interface CohortMember {
  distinctId: string;
  /** Undefined when the id has no profile. */
  properties: Properties | undefined;
}

/** `YYYY-MM-DD HH:MM:SS` in UTC, the format cohorts/list uses for `created`. */
export function mixpanelDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

export class CohortBook {
  private readonly profiles = new Map<string, Map<string, Properties>>();
  private readonly cohorts = new Map<string, Map<string, Cohort>>();
  private nextId = 1;

  constructor(private readonly now: () => number = Date.now) {}

  /** Creates the cohort, or replaces its members (and name, description) when the id exists. */
  upsert(projectId: string, input: CohortInput): { cohort: Cohort; created: boolean } {
    const cohorts = this.projectCohorts(projectId);
    const id = input.id ?? this.freshId(cohorts);
    const existing = cohorts.get(id);
    this.setProfiles(projectId, input.members);
    const members = new Set(input.members.map((m) => m.distinctId));
    if (existing) {
      existing.name = input.name;
      if (input.description !== undefined) existing.description = input.description;
      if (input.isVisible !== undefined) existing.isVisible = input.isVisible;
      existing.members = members;
      return { cohort: existing, created: false };
    }
    const cohort: Cohort = {
      id,
      projectId,
      name: input.name,
      description: input.description ?? '',
      createdMs: this.now(),
      isVisible: input.isVisible ?? true,
      members,
    };
    cohorts.set(id, cohort);
    return { cohort, created: true };
  }

  get(projectId: string, cohortId: string): Cohort | undefined {
    return this.cohorts.get(projectId)?.get(cohortId);
  }

  list(projectId: string): Cohort[] {
    return [...(this.cohorts.get(projectId)?.values() ?? [])];
  }

  replaceMembers(cohort: Cohort, members: readonly CohortMemberInput[]): void {
    this.setProfiles(cohort.projectId, members);
    cohort.members = new Set(members.map((m) => m.distinctId));
  }

  addMembers(cohort: Cohort, members: readonly CohortMemberInput[]): number {
    this.setProfiles(cohort.projectId, members);
    const before = cohort.members.size;
    for (const m of members) cohort.members.add(m.distinctId);
    return cohort.members.size - before;
  }

  removeMembers(cohort: Cohort, distinctIds: readonly string[]): number {
    let removed = 0;
    for (const id of distinctIds) if (cohort.members.delete(id)) removed++;
    return removed;
  }

  delete(projectId: string, cohortId: string): boolean {
    return this.cohorts.get(projectId)?.delete(cohortId) ?? false;
  }

  /** Merges properties into profiles, creating them; members without properties are left alone. */
  setProfiles(projectId: string, members: readonly CohortMemberInput[]): void {
    const profiles = this.projectProfiles(projectId);
    for (const m of members) {
      if (!m.properties) continue;
      profiles.set(m.distinctId, { ...(profiles.get(m.distinctId) ?? {}), ...m.properties });
    }
  }

  profile(projectId: string, distinctId: string): Properties | undefined {
    return this.profiles.get(projectId)?.get(distinctId);
  }

  members(cohort: Cohort): CohortMember[] {
    const profiles = this.profiles.get(cohort.projectId);
    return [...cohort.members].map((distinctId) => ({ distinctId, properties: profiles?.get(distinctId) }));
  }

  /** Every profile of the project, in insertion order (engage without a cohort filter). */
  allProfiles(projectId: string): CohortMember[] {
    return [...(this.profiles.get(projectId)?.entries() ?? [])].map(([distinctId, properties]) => ({ distinctId, properties }));
  }

  clear(): void {
    this.profiles.clear();
    this.cohorts.clear();
  }

  private projectCohorts(projectId: string): Map<string, Cohort> {
    let m = this.cohorts.get(projectId);
    if (!m) this.cohorts.set(projectId, (m = new Map()));
    return m;
  }

  private projectProfiles(projectId: string): Map<string, Properties> {
    let m = this.profiles.get(projectId);
    if (!m) this.profiles.set(projectId, (m = new Map()));
    return m;
  }

  private freshId(cohorts: Map<string, Cohort>): string {
    while (cohorts.has(String(this.nextId))) this.nextId++;
    return String(this.nextId++);
  }
}
