/** The Canvas shapes the dashboard reads: every answer of the dashboard routes comes from the Canvases contract. */
import type { Static } from 'typebox';
import * as Contract from '../../../../canvases/contract';

export const CanvasList = Contract.CanvasList;
export type CanvasList = Static<typeof Contract.CanvasList>;
export const CanvasListItem = Contract.CanvasListItem;
export type CanvasListItem = Static<typeof Contract.CanvasListItem>;
export const ValidationReply = Contract.ValidationReply;
export type ValidationReply = Static<typeof Contract.ValidationReply>;
export const LaunchProblem = Contract.LaunchProblem;
export type LaunchProblem = Static<typeof Contract.LaunchProblem>;
export const CanvasStats = Contract.CanvasStats;
export type CanvasStats = Static<typeof Contract.CanvasStats>;
export const StepStats = Contract.StepStats;
export type StepStats = Static<typeof Contract.StepStats>;
export const StepUsers = Contract.StepUsers;
export type StepUsers = Static<typeof Contract.StepUsers>;
export const UserCanvases = Contract.UserCanvases;
export type UserCanvases = Static<typeof Contract.UserCanvases>;
/** A Canvas as the admin routes answer it. */
export const CanvasReply = Contract.CanvasReply;
export type CanvasReply = Static<typeof CanvasReply>;
