/** Secrets: the master key (its box seals stored credentials) and the deployment's one identity of it. */
export * from './box.js';
export { MasterKeyError, resolveMasterKey, storedCheckValue, type ResolvedMasterKey } from './identity.js';
