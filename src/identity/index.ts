/** Identity: users, aliases, devices; resolving identifiers to users; identification and merges. */
export * from './types.js';
export { findUserRefs, findUsers } from './resolve.js';
export { identifyProfile, type IdentifyOutcome } from './identify.js';
export { mergeUsers, type MergeBehavior, type MergeContext, type MergeParticipant } from './merge.js';
export * from './store.js';
export { buildProfiles, renderCustomAttributes, CORE_PROFILE_FIELDS, type ProfileExtension } from './profile.js';
export { aliasKey, isMatchableExternalId, matchAliases, matchDeviceIds, matchEmails, matchExternalIds, type Match, type Unmatched } from './match.js';
