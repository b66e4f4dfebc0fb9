/** Spreading the counters' moves over the steps between (stats.ts). Pure. */
import { describe, expect, it } from 'vitest';
import type { CanvasDefinition, Step } from './definition.js';
import { figuresOf, stepsBetween, type FlowRow } from './stats.js';

const steps: Step[] = [
  { id: 'split', name: 'Split', type: 'decision_split', segment_id: 's', yes: 'update', no: null },
  { id: 'update', name: 'Update', type: 'user_update', attributes: { a: 1 }, next: 'mail' },
  { id: 'mail', name: 'Mail', type: 'message', message_variation_id: 'mv', email: { subject: 's', html: 'h' }, next: 'wait' },
  { id: 'wait', name: 'Wait', type: 'delay', delay: { seconds: 60 }, next: 'after' },
  { id: 'after', name: 'After', type: 'user_update', attributes: { b: 1 }, next: null },
];
const def = { steps, first_step_id: 'split' } as Pick<CanvasDefinition, 'steps' | 'first_step_id'> as CanvasDefinition;

describe('stepsBetween', () => {
  it('finds the passable steps between two steps, or to the end', () => {
    expect(stepsBetween(def, 'split', 'mail')).toEqual(['update']);
    expect(stepsBetween(def, 'split', 'wait')).toEqual(['update', 'mail']);
    expect(stepsBetween(def, 'split', '')).toEqual([]);
    expect(stepsBetween(def, 'update', 'mail')).toEqual([]);
    expect(stepsBetween(def, 'wait', '')).toEqual(['after']);
  });
  it('never passes through a Delay, and gives nothing for a route that does not exist', () => {
    expect(stepsBetween(def, 'split', 'after')).toEqual([]);
    expect(stepsBetween(def, 'mail', 'split')).toEqual([]);
    expect(stepsBetween(def, 'nope', 'mail')).toEqual([]);
  });
});

describe('figuresOf', () => {
  it('credits entries, moves (with the steps between), exits, ends and conversions', () => {
    const rows: FlowRow[] = [
      { version: 1, from_step: '', to_step: 'split', outcome: 'entered', n: 5 },
      { version: 1, from_step: '', to_step: '', outcome: 'control', n: 1 },
      { version: 1, from_step: 'split', to_step: '', outcome: 'moved', n: 1 },
      { version: 1, from_step: 'split', to_step: 'wait', outcome: 'moved', n: 4 },
      { version: 1, from_step: 'wait', to_step: '', outcome: 'moved', n: 2 },
      { version: 1, from_step: 'wait', to_step: '', outcome: 'exited', n: 1 },
      { version: 1, from_step: 'wait', to_step: '', outcome: 'converted', n: 1 },
    ];
    const f = figuresOf(rows, new Map([[1, def]]), [{ step_id: 'wait', n: 1 }]);
    expect(f.totals).toEqual({ entries: 6, control: 1, in_canvas: 1, completed: 3, exited: 1, converted: 1 });
    expect(f.steps.get('split')).toMatchObject({ entered: 5, advanced: 5 });
    expect(f.steps.get('update')).toMatchObject({ entered: 4, advanced: 4 });
    expect(f.steps.get('mail')).toMatchObject({ entered: 4, advanced: 4 });
    expect(f.steps.get('wait')).toMatchObject({ entered: 4, advanced: 2, exited: 1, converted: 1, in_step: 1 });
    expect(f.steps.get('after')).toMatchObject({ entered: 2, advanced: 2 });
  });
});
