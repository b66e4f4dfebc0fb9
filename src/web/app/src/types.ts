/**
 * The admin API's response shapes as the dashboard reads them: each is `Static` of a response
 * schema in the server's contract modules (`src/<capability>/contract.ts`), which Fastify also
 * serializes through, so renaming a field there breaks this type check. No hand-written copies.
 */
import type { Static } from 'typebox';
import type * as Cohorts from '../../../cohorts/contract';
import type * as Segments from '../../../segments/contract';

export type Segment = Static<typeof Segments.Segment>;
export type SegmentPage = Static<typeof Segments.SegmentPage>;
export type CatalogueEntry = Static<typeof Segments.CatalogueEntry>;
export type FilterCatalogue = Static<typeof Segments.FilterCatalogue>;
export type SegmentCount = Static<typeof Segments.SegmentCount>;

export type PartnerInfo = Static<typeof Cohorts.PartnerInfo>;
export type PartnerList = Static<typeof Cohorts.PartnerList>;
export type PartnerSettings = Static<typeof Cohorts.PartnerSettings>;
export type ImportKey = Static<typeof Cohorts.ImportKey>;
export type ImportKeyPage = Static<typeof Cohorts.ImportKeyPage>;
export type NewImportKey = Static<typeof Cohorts.NewImportKey>;
export type SyncRow = Static<typeof Cohorts.SyncRow>;
export type SyncPage = Static<typeof Cohorts.SyncPage>;
export type Cohort = Static<typeof Cohorts.Cohort>;
export type CohortPage = Static<typeof Cohorts.CohortPage>;
export type CohortDetail = Static<typeof Cohorts.CohortDetail>;
export type UsageDay = Static<typeof Cohorts.UsageDay>;
export type DataPointUsage = Static<typeof Cohorts.DataPointUsage>;
/** A rejected webhook push or partner API request (GET /admin/cohort-sync-rejections). */
export type SyncRejection = Static<typeof Cohorts.SyncRejection>;
export type SyncRejectionPage = Static<typeof Cohorts.SyncRejectionPage>;
/** A dynamic sync whose last good sync is older than two intervals (GET /admin/cohort-syncs/stale). */
export type StaleSync = Static<typeof Cohorts.StaleSync>;
export type StaleSyncList = Static<typeof Cohorts.StaleSyncList>;
