/**
 * The admin API's response shapes as the dashboard reads them: each is `Static` of a response
 * schema in the server's contract modules (`src/<capability>/contract.ts`), which Fastify also
 * serializes through, so renaming a field there breaks this type check. No hand-written copies.
 */
import type { Static } from 'typebox';
import * as Cohorts from '../../../cohorts/contract';
import * as Http from '../../../http/contract';
import * as Segments from '../../../segments/contract';

/** A 204 answer: no body (null). */
export const NoContent = Http.NoContent;

export const Segment = Segments.Segment;
export type Segment = Static<typeof Segment>;
export const SegmentPage = Segments.SegmentPage;
export type SegmentPage = Static<typeof SegmentPage>;
export const CatalogueEntry = Segments.CatalogueEntry;
export type CatalogueEntry = Static<typeof CatalogueEntry>;
export const FilterCatalogue = Segments.FilterCatalogue;
export type FilterCatalogue = Static<typeof FilterCatalogue>;
export const SegmentCount = Segments.SegmentCount;
export type SegmentCount = Static<typeof SegmentCount>;

export const PartnerInfo = Cohorts.PartnerInfo;
export type PartnerInfo = Static<typeof PartnerInfo>;
export const PartnerList = Cohorts.PartnerList;
export type PartnerList = Static<typeof PartnerList>;
export const PartnerSettings = Cohorts.PartnerSettings;
export type PartnerSettings = Static<typeof PartnerSettings>;
export const ImportKey = Cohorts.ImportKey;
export type ImportKey = Static<typeof ImportKey>;
export const ImportKeyPage = Cohorts.ImportKeyPage;
export type ImportKeyPage = Static<typeof ImportKeyPage>;
export const NewImportKey = Cohorts.NewImportKey;
export type NewImportKey = Static<typeof NewImportKey>;
export const SyncRow = Cohorts.SyncRow;
export type SyncRow = Static<typeof SyncRow>;
export const SyncPage = Cohorts.SyncPage;
export type SyncPage = Static<typeof SyncPage>;
export const Cohort = Cohorts.Cohort;
export type Cohort = Static<typeof Cohort>;
export const CohortPage = Cohorts.CohortPage;
export type CohortPage = Static<typeof CohortPage>;
export const CohortDetail = Cohorts.CohortDetail;
export type CohortDetail = Static<typeof CohortDetail>;
export const UsageDay = Cohorts.UsageDay;
export type UsageDay = Static<typeof UsageDay>;
export const DataPointUsage = Cohorts.DataPointUsage;
export type DataPointUsage = Static<typeof DataPointUsage>;
/** A rejected webhook push or partner API request (GET /admin/cohort-sync-rejections). */
export const SyncRejection = Cohorts.SyncRejection;
export type SyncRejection = Static<typeof SyncRejection>;
export const SyncRejectionPage = Cohorts.SyncRejectionPage;
export type SyncRejectionPage = Static<typeof SyncRejectionPage>;
/** A dynamic sync whose last good sync is older than two intervals (GET /admin/cohort-syncs/stale). */
export const StaleSync = Cohorts.StaleSync;
export type StaleSync = Static<typeof StaleSync>;
export const StaleSyncList = Cohorts.StaleSyncList;
export type StaleSyncList = Static<typeof StaleSyncList>;
