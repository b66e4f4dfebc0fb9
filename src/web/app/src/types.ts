/**
 * The admin API's response shapes as the dashboard reads them. Shapes of capabilities with a
 * contract module come from it (the server serializes through the same schemas); the interfaces
 * below are those of routes not yet moved onto a contract.
 */
import type { Static } from 'typebox';
import type * as Segments from '../../../segments/contract';

export type Segment = Static<typeof Segments.Segment>;
export type SegmentPage = Static<typeof Segments.SegmentPage>;
export type CatalogueEntry = Static<typeof Segments.CatalogueEntry>;
export type FilterCatalogue = Static<typeof Segments.FilterCatalogue>;
export type SegmentCount = Static<typeof Segments.SegmentCount>;

export interface PartnerInfo {
  partner: string;
  name: string;
  filter: string;
  enabled: boolean;
  cohort_endpoint: string;
  user_cohort_endpoint: string;
  webhook_url?: string;
  match_key?: string;
}

export interface ImportKey {
  prefix: string;
  partner: string;
  state: string;
  created_at: string;
  last_used_at: string | null;
  ended_at: string | null;
}

export interface NewImportKey extends ImportKey {
  key: string;
  replaces?: string;
}

export interface SyncRow {
  id: string;
  cohort_id: string | null;
  /** The cohort's name (newer servers); the dashboard falls back to the cohort list. */
  cohort_name?: string | null;
  /** A run that received, added and removed nothing. */
  empty?: boolean;
  partner_cohort_id: string | null;
  partner: string;
  source: string;
  action: string | null;
  status: string;
  received: number;
  matched: number;
  unmatched: { not_found: number; device_id_of_identified_user: number };
  added: number;
  removed: number;
  unchanged: number;
  error: string | null;
  at: string;
}

export interface Cohort {
  id: string;
  partner: string;
  cohort_id: string;
  name: string;
  description: string | null;
  member_count: number;
  created_at: string;
  last_synced_at: string | null;
  last_source: string | null;
  filter?: string;
}

export interface CohortDetail extends Cohort {
  daily: Array<{ day: string; added: number; removed: number }>;
  syncs: SyncRow[];
}

export interface UsageDay {
  day: string;
  data_points: number;
  by_source: Record<string, number>;
}

/** A rejected webhook push or partner API request (GET /admin/cohort-sync-rejections). */
export interface SyncRejection {
  id: number;
  attributed: boolean;
  partner: string;
  source: string;
  key_prefix: string | null;
  reason: string;
  status: number;
  message: string | null;
  at: string;
}

/** A dynamic sync whose last good sync is older than two intervals (GET /admin/cohort-syncs/stale). */
export interface StaleSync {
  kind: 'pull_connection' | 'webhook_cohort';
  id: string;
  name: string;
  interval_seconds: number;
  last_success_at: string | null;
}
