import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { relative } from 'node:path';
import type { Reporter, TestModule, Vitest } from 'vitest/node';

/** Where the per-file durations of the last run go (read by the sequencer, docs/testing.md). */
export const DURATIONS_PATH = 'test-results/durations.json';

/** One file's run in one project, as written to test-results/durations.json. */
export interface FileDuration {
  /** `<project>:<path relative to the root>`, the key the sequencer sorts by. */
  key: string;
  project: string;
  file: string;
  /** Wall time in the worker, ms: from the file being queued (before its import) to its end. */
  wallMs: number;
  /** Vitest's own breakdown, ms: importing the file, and its tests and hooks. */
  collectMs: number;
  testsMs: number;
  /** CPU of the test process (import included) and of the child processes it reaped, ms (cpu-meter.ts). */
  cpuMs?: number;
  childCpuMs?: number;
  tests: number;
  state: string;
}

/**
 * Prints one plain closing line, `N passed, N failed, N skipped`, that any CI log reader understands;
 * writes every file's wall duration (and each project's) to test-results/durations.json and prints
 * the 15 slowest files, so that where the suite's time goes is visible after every run.
 */
export default class SummaryReporter implements Reporter {
  private root = process.cwd();
  private runStarted = Date.now();
  private readonly queued = new Map<string, number>();
  private readonly ended = new Map<string, number>();
  private readonly load: number[] = [];
  private loadTimer: NodeJS.Timeout | undefined;

  onInit(ctx: Vitest): void {
    this.root = ctx.config.root;
  }

  onTestRunStart(): void {
    this.runStarted = Date.now();
    this.load.push(loadavg()[0] ?? 0);
    this.loadTimer = setInterval(() => this.load.push(loadavg()[0] ?? 0), 15_000);
    this.loadTimer.unref();
  }

  onTestModuleQueued(mod: TestModule): void {
    this.queued.set(keyOf(this.root, mod), Date.now());
  }

  onTestModuleEnd(mod: TestModule): void {
    this.ended.set(keyOf(this.root, mod), Date.now());
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    if (this.loadTimer) clearInterval(this.loadTimer);
    this.load.push(loadavg()[0] ?? 0);
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const files: FileDuration[] = [];
    for (const mod of testModules) {
      let failedHere = 0;
      let tests = 0;
      for (const t of mod.children.allTests()) {
        tests++;
        const state = t.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failedHere++;
        else skipped++;
      }
      // A file that failed outside its tests (an import, a beforeAll hook) counts as one failure.
      if (mod.state() === 'failed' && failedHere === 0) failedHere = 1;
      failed += failedHere;

      const key = keyOf(this.root, mod);
      const d = mod.diagnostic();
      const queued = this.queued.get(key);
      const ended = this.ended.get(key);
      const cpu = mod.meta() as { cpuMs?: number; childCpuMs?: number };
      const breakdown = d.environmentSetupDuration + d.prepareDuration + d.setupDuration + d.collectDuration + d.duration;
      files.push({
        key,
        project: mod.project.name,
        file: relative(this.root, mod.moduleId),
        wallMs: Math.round(queued !== undefined && ended !== undefined ? ended - queued : breakdown),
        collectMs: Math.round(d.collectDuration),
        testsMs: Math.round(d.duration),
        cpuMs: cpu.cpuMs,
        childCpuMs: cpu.childCpuMs,
        tests,
        state: mod.state(),
      });
    }
    files.sort((a, b) => b.wallMs - a.wallMs);
    const projects: Record<string, { files: number; wallMs: number; cpuMs: number }> = {};
    for (const f of files) {
      const p = (projects[f.project] ??= { files: 0, wallMs: 0, cpuMs: 0 });
      p.files++;
      p.wallMs += f.wallMs;
      p.cpuMs += (f.cpuMs ?? 0) + (f.childCpuMs ?? 0);
    }
    const runMs = Date.now() - this.runStarted;
    const load = { min: Math.min(...this.load), max: Math.max(...this.load), mean: this.load.reduce((s, x) => s + x, 0) / this.load.length };
    try {
      mkdirSync('test-results', { recursive: true });
      writeFileSync(
        DURATIONS_PATH,
        `${JSON.stringify({ finishedAt: new Date().toISOString(), runMs, loadAverage1m: round1(load), projects, files }, null, 2)}\n`,
      );
    } catch {
      // A read-only checkout still gets the summary below.
    }

    // Only a run of many files has a profile worth printing; a focused run keeps its short output.
    if (files.length > 5) {
      const s = (ms: number | undefined) => (ms === undefined ? '?' : (ms / 1000).toFixed(1)).padStart(6);
      const out = [`\nSlowest files (${DURATIONS_PATH}): wall s in the worker, CPU s of the test process + its children`];
      for (const f of files.slice(0, 15)) out.push(`${s(f.wallMs)}  ${s(f.cpuMs)} +${s(f.childCpuMs)}  ${f.key}`);
      const perProject = Object.entries(projects)
        .map(([name, p]) => `${name} ${p.files} files ${(p.wallMs / 1000).toFixed(0)} s wall, ${(p.cpuMs / 1000).toFixed(0)} s CPU`)
        .join('; ');
      out.push(`Summed over workers: ${perProject}; run ${(runMs / 1000).toFixed(0)} s, 1-min load ${load.min.toFixed(1)}–${load.max.toFixed(1)} (mean ${load.mean.toFixed(1)})`);
      process.stdout.write(`${out.join('\n')}\n`);
    }
    process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}

function keyOf(root: string, mod: TestModule): string {
  return `${mod.project.name}:${relative(root, mod.moduleId)}`;
}

function round1(l: { min: number; max: number; mean: number }): { min: number; max: number; mean: number } {
  return { min: Math.round(l.min * 10) / 10, max: Math.round(l.max * 10) / 10, mean: Math.round(l.mean * 10) / 10 };
}
