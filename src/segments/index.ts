/** Segments: named audiences over users and imported cohorts — the filter language, evaluation, the admin API. */
export { segmentRoutes } from './routes.js';
export { SegmentEvaluator, type EvaluatorOptions } from './evaluator.js';
export { ChangeLogPruner, type PrunerOptions } from './change-log.js';
export { OrdinalBitmap } from './bitmap.js';
export { checkFilter, checkSegmentBody, type Problem, type SegmentInput } from './validate.js';
export { MIXPANEL_ONLY, type CohortFilterNames, type Filter, type FilterNode } from './filter.js';
export { exportStream, membersByOrdinal, type ExportFormat, type Member } from './export.js';
export { getSegment, listSegments, type Segment } from './store.js';
export * as SegmentsContract from './contract.js';
