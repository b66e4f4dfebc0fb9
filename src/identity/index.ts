/** Identity: users, aliases, devices; resolving identifiers to users; identification and merges. */
export * from './types.js';
export { findUserRefs, findUsers } from './resolve.js';
export { identifyProfile, lockForIdentify, type IdentifyOutcome } from './identify.js';
export { deleteUsers, mergeUsers, type MergeBehavior, type MergeContext, type MergeParticipant } from './merge.js';
export { identityKey, lockIdentityKeys, lockUsersKeyShare, type UserLockMode } from './locks.js';
export { moveDevice, recordSessionStart, upsertDevice, type DeviceFields } from './devices.js';
export { recordEventStats, type StatOccurrence } from './event-stats.js';
export * from './store.js';
export { buildProfiles, renderCustomAttributes, CORE_PROFILE_FIELDS, type ProfileExtension } from './profile.js';
export { aliasKey, isMatchableExternalId, matchAliases, matchDeviceIds, matchEmails, matchExternalIds, type Match, type Unmatched } from './match.js';
export { setEmailSubscribe, userOrdinals, type EmailSubscribeState } from './subscriptions.js';
export { clearEmailFlag, datedEmails, groupStates, noteEmailUnsubscribe, setEmailStateByAddress, setGroupState, userIdsByEmails, type DatedEmail, type GroupState } from './email-status.js';
export { phoneDigits, setSmsSubscribe, smsSubscribeState, usersByPhone, type SmsSubscribeState } from './sms-subscriptions.js';
