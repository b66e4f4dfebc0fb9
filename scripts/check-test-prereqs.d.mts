/** Types for check-test-prereqs.mjs (plain JavaScript so that `npm test` runs it before any build). */
export const DEFAULT_CHROMIUM: string;
export const DEFAULT_PG_URL: string;
export type Env = Record<string, string | undefined>;
export type Probe = { ok: true; version: string } | { ok: false; code?: string; message: string };
export type ChromiumPlan =
  | { kind: 'ok'; path: string }
  | { kind: 'install'; path: string; commands: Array<[string, string[]]> }
  | { kind: 'stop'; message: string };
export type PostgresPlan = { kind: 'ok'; url: string; version: string } | { kind: 'stop'; message: string };
export function isExecutable(path: string): boolean;
export function findOnPath(cmd: string, pathVar?: string): string | undefined;
export function planChromium(opts: { env: Env; uid: number; defaultPath?: string }): ChromiumPlan;
export function debianClusters(etc?: string): string[];
export function planPostgres(opts: { env: Env; uid: number; probe: Probe; clusters?: string[] }): PostgresPlan;
export function probePostgres(url: string, timeoutMs?: number): Promise<Probe>;
export function main(opts?: {
  env?: Env;
  uid?: number;
  probe?: (url: string) => Promise<Probe>;
  run?: (cmd: string, args: string[]) => number;
  log?: (line: string) => void;
  error?: (line: string) => void;
  defaultChromium?: string;
}): Promise<number>;
