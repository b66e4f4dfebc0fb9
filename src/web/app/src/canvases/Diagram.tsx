/**
 * The Canvas diagram (@xyflow/react): an Entry node, one node per step, an End node; an edge per
 * connected output. Dragging from an output to a step (or to End) connects it; deleting an edge
 * disconnects it. Each step node shows its type, its problems from the launch check and, once the
 * Canvas runs, its statistics.
 */
import { Background, Controls, Handle, Position, ReactFlow, type Connection, type Edge, type EdgeChange, type Node, type NodeChange, type NodeProps } from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { useMemo, useState } from 'react';
import { count } from '../format';
import { layout, outputsOf, typeLabel, withOutput, type CanvasDraft, type StepDraft } from './model';
import type { LaunchProblem, StepStats } from './types';

export const ENTRY = '__entry';
export const END = '__end';

type StepNodeData = { step: StepDraft; problems: LaunchProblem[]; stats: StepStats | undefined; first: boolean };
type StepNode = Node<StepNodeData, 'step'>;
type MarkerNode = Node<{ label: string; detail: string }, 'entry' | 'end'>;

function StepNodeView({ data, selected }: NodeProps<StepNode>) {
  const { step, problems, stats } = data;
  const outputs = outputsOf(step);
  return (
    <div className={`cv-node${problems.length ? ' cv-node-bad' : ''}${selected ? ' cv-node-selected' : ''}`} data-testid={`node-${step.id}`} data-step-type={step.type}>
      <Handle type="target" position={Position.Top} id="in" />
      <div className="cv-node-type">{typeLabel(step.type)}</div>
      <div className="cv-node-name">{step.name}</div>
      {stats ? (
        <dl className="cv-node-stats" data-testid={`stats-${step.id}`}>
          <div>
            <dt>Entered</dt>
            <dd data-stat="entered">{count(stats.entered)}</dd>
          </div>
          <div>
            <dt>In step</dt>
            <dd data-stat="in_step">{count(stats.in_step)}</dd>
          </div>
          <div>
            <dt>Advanced</dt>
            <dd data-stat="advanced">{count(stats.advanced)}</dd>
          </div>
          <div>
            <dt>Exited</dt>
            <dd data-stat="exited">{count(stats.exited)}</dd>
          </div>
          <div>
            <dt>Converted</dt>
            <dd data-stat="converted">{count(stats.converted)}</dd>
          </div>
        </dl>
      ) : null}
      {problems.length ? (
        <ul className="cv-node-problems" role="alert" data-testid={`problems-${step.id}`}>
          {problems.map((p) => (
            <li key={`${p.field}:${p.message}`}>{p.message}</li>
          ))}
        </ul>
      ) : null}
      <div className="cv-node-outputs">
        {outputs.map((o, i) => (
          <span key={o.key} className={`cv-out${o.value === undefined ? ' cv-out-open' : ''}`} style={{ left: `${((i + 1) / (outputs.length + 1)) * 100}%` }}>
            {outputs.length > 1 ? o.label : ''}
            <Handle type="source" position={Position.Bottom} id={o.key} />
          </span>
        ))}
      </div>
    </div>
  );
}

function EntryNodeView({ data }: NodeProps<MarkerNode>) {
  return (
    <div className="cv-marker cv-marker-entry">
      <strong>{data.label}</strong>
      <span className="small">{data.detail}</span>
      <Handle type="source" position={Position.Bottom} id="first" />
    </div>
  );
}

function EndNodeView({ data }: NodeProps<MarkerNode>) {
  return (
    <div className="cv-marker cv-marker-end">
      <Handle type="target" position={Position.Top} id="in" />
      <strong>{data.label}</strong>
    </div>
  );
}

const nodeTypes = { step: StepNodeView, entry: EntryNodeView, end: EndNodeView };

export function Diagram({
  draft,
  onChange,
  problems,
  stats,
  selected,
  onSelect,
  entryDetail,
}: {
  draft: CanvasDraft;
  onChange: (d: CanvasDraft) => void;
  problems: LaunchProblem[];
  stats: StepStats[] | undefined;
  selected: string | null;
  onSelect: (id: string | null) => void;
  entryDetail: string;
}) {
  // Positions the user dragged to; the others come from the layout.
  const [moved, setMoved] = useState<Map<string, { x: number; y: number }>>(new Map());
  const auto = useMemo(() => layout(draft), [draft]);
  const first = draft.first_step_id || draft.steps[0]?.id || '';
  const maxY = Math.max(190, ...[...auto.values()].map((p) => p.y));

  const nodes: Array<StepNode | MarkerNode> = [
    { id: ENTRY, type: 'entry', position: moved.get(ENTRY) ?? { x: 0, y: 0 }, data: { label: 'Entry', detail: entryDetail }, deletable: false, selectable: false },
    ...draft.steps.map(
      (s): StepNode => ({
        id: s.id,
        type: 'step',
        position: moved.get(s.id) ?? auto.get(s.id) ?? { x: 0, y: 190 },
        data: { step: s, problems: problems.filter((p) => p.step_id === s.id), stats: stats?.find((x) => x.step_id === s.id), first: s.id === first },
        selected: s.id === selected,
        deletable: false,
      }),
    ),
    { id: END, type: 'end', position: moved.get(END) ?? { x: 0, y: maxY + 230 }, data: { label: 'End', detail: '' }, deletable: false, selectable: false },
  ];
  const edges: Edge[] = [];
  if (first && draft.steps.some((s) => s.id === first)) edges.push({ id: `${ENTRY}->${first}`, source: ENTRY, sourceHandle: 'first', target: first, targetHandle: 'in' });
  for (const s of draft.steps) {
    for (const o of outputsOf(s)) {
      if (o.value === undefined) continue;
      const target = o.value === null ? END : o.value;
      if (target !== END && !draft.steps.some((x) => x.id === target)) continue;
      edges.push({ id: `${s.id}:${o.key}`, source: s.id, sourceHandle: o.key, target, targetHandle: 'in', label: outputsOf(s).length > 1 ? o.label : undefined });
    }
  }

  const connect = (c: Connection) => {
    if (!c.source || !c.target || c.target === ENTRY) return;
    if (c.source === ENTRY) {
      if (c.target !== END) onChange({ ...draft, first_step_id: c.target });
      return;
    }
    const value = c.target === END ? null : c.target;
    onChange({ ...draft, steps: draft.steps.map((s) => (s.id === c.source ? withOutput(s, c.sourceHandle ?? 'next', value) : s)) });
  };
  const edgeChanges = (changes: EdgeChange[]) => {
    let next = draft;
    for (const ch of changes) {
      if (ch.type !== 'remove') continue;
      const [source, key] = ch.id.split(':');
      if (ch.id.startsWith(`${ENTRY}->`)) next = { ...next, first_step_id: '' };
      else if (source && key) next = { ...next, steps: next.steps.map((s) => (s.id === source ? withOutput(s, key, undefined) : s)) };
    }
    if (next !== draft) onChange(next);
  };
  const nodeChanges = (changes: NodeChange[]) => {
    const positions = changes.filter((c) => c.type === 'position' && c.position);
    if (positions.length) {
      setMoved((m) => {
        const n = new Map(m);
        for (const c of positions) if (c.type === 'position' && c.position) n.set(c.id, c.position);
        return n;
      });
    }
  };

  return (
    <div className="cv-diagram" data-testid="canvas-diagram">
      <ReactFlow
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        onConnect={connect}
        onEdgesChange={edgeChanges}
        onNodesChange={nodeChanges}
        onNodeClick={(_, n) => onSelect(n.type === 'step' ? n.id : null)}
        onPaneClick={() => onSelect(null)}
        fitView
        fitViewOptions={{ maxZoom: 1 }}
        minZoom={0.2}
      >
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}
