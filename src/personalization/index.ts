/** Personalization: Liquid with Braze's syntax, checked at save and rendered per user. */
export { compileTemplate, renderTemplate, MAX_TEMPLATE_CHARS, MAX_ABORT_LOG, type CompiledTemplate, type RenderOutcome } from './engine.js';
export { buildRenderScope, randomBucketNumber, type ScopeInput, type ProfileForRender, type RenderScope } from './scope.js';
export type { SourceProblem } from './braze-syntax.js';
