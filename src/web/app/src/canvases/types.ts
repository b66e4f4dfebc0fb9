/** The Canvas shapes the dashboard reads: every answer of the dashboard routes comes from the Canvases contract. */
import type { Static } from 'typebox';
import type * as Contract from '../../../../canvases/contract';

export type CanvasList = Static<typeof Contract.CanvasList>;
export type CanvasListItem = Static<typeof Contract.CanvasListItem>;
export type ValidationReply = Static<typeof Contract.ValidationReply>;
export type LaunchProblem = Static<typeof Contract.LaunchProblem>;
export type CanvasStats = Static<typeof Contract.CanvasStats>;
export type StepStats = Static<typeof Contract.StepStats>;
export type StepUsers = Static<typeof Contract.StepUsers>;
export type UserCanvases = Static<typeof Contract.UserCanvases>;
