/**
 * The segment builder's filter picker: nested AND / OR groups of conditions, each condition a
 * filter kind from the server's catalogue (partner cohorts, attributes, identity, behaviour) with
 * its operator and operands. Every control has a label; everything works from the keyboard.
 */
import { useId } from 'react';
import { choice } from '../choice';
import type { CatalogueEntry } from '../types';
import {
  CATEGORY_LABELS,
  FILTER_LABELS,
  isCohortFilter,
  newCondition,
  newGroup,
  OPERATOR_LABELS,
  type Condition,
  type EditorNode,
  type Group,
  type ValueType,
} from './model';

interface EditorProps {
  catalogue: CatalogueEntry[];
  /** The condition the server or the model found incomplete, highlighted. */
  problemId: string | undefined;
  onChange: (id: string, change: (n: EditorNode) => EditorNode | null) => void;
}

export function GroupEditor({ group, depth, ...props }: EditorProps & { group: Group; depth: number }) {
  const id = useId();
  const first = props.catalogue[0];
  const addCondition = () =>
    props.onChange(group.id, (g) => (g.kind === 'group' ? { ...g, children: [...g.children, newCondition(first?.filter ?? 'identity', first?.operators[0] ?? 'identified')] } : g));
  const addGroup = () => props.onChange(group.id, (g) => (g.kind === 'group' ? { ...g, children: [...g.children, newGroup(group.op === 'and' ? 'or' : 'and')] } : g));
  return (
    <fieldset className={`group depth-${Math.min(depth, 3)}`}>
      <legend>
        <label htmlFor={`${id}-op`} className="offscreen">
          How conditions in this group combine
        </label>
        <select id={`${id}-op`} value={group.op} onChange={(e) => props.onChange(group.id, (g) => (g.kind === 'group' ? { ...g, op: choice(['and', 'or'], e.target.value, 'and') } : g))}>
          <option value="and">ALL of these (AND)</option>
          <option value="or">ANY of these (OR)</option>
        </select>
        <label className="check">
          <input type="checkbox" checked={group.negate} onChange={(e) => props.onChange(group.id, (g) => (g.kind === 'group' ? { ...g, negate: e.target.checked } : g))} />
          exclude (NOT)
        </label>
        {depth > 0 ? (
          <button type="button" className="button button-small button-ghost" onClick={() => props.onChange(group.id, () => null)}>
            Remove group
          </button>
        ) : null}
      </legend>
      {group.children.length === 0 ? (
        <p className="muted small">{group.op === 'and' ? 'An empty ALL group matches every user.' : 'An empty ANY group matches no one.'}</p>
      ) : null}
      <ol className="conditions">
        {group.children.map((child, i) => (
          <li key={child.id}>
            {i > 0 ? <span className="joiner">{group.op.toUpperCase()}</span> : null}
            {child.kind === 'group' ? <GroupEditor group={child} depth={depth + 1} {...props} /> : <ConditionEditor condition={child} {...props} />}
          </li>
        ))}
      </ol>
      <div className="group-actions">
        <button type="button" className="button button-small" onClick={addCondition}>
          + Add condition
        </button>
        <button type="button" className="button button-small button-ghost" onClick={addGroup}>
          + Add group
        </button>
      </div>
    </fieldset>
  );
}

function byCategory(catalogue: CatalogueEntry[]): Array<[string, CatalogueEntry[]]> {
  const groups = new Map<string, CatalogueEntry[]>();
  for (const entry of catalogue) groups.set(entry.category, [...(groups.get(entry.category) ?? []), entry]);
  return [...groups.entries()];
}

function ConditionEditor({ condition: c, catalogue, problemId, onChange }: EditorProps & { condition: Condition }) {
  const id = useId();
  const entry = catalogue.find((e) => e.filter === c.filter);
  const set = (patch: Partial<Condition>) => onChange(c.id, (n) => (n.kind === 'condition' ? { ...n, ...patch } : n));
  const pickFilter = (filter: string) => {
    const next = catalogue.find((e) => e.filter === filter);
    set({ filter, op: next?.operators[0] ?? '', value: '' });
  };
  const field = (suffix: string) => `${id}-${suffix}`;
  return (
    <div className={`condition${problemId === c.id ? ' has-problem' : ''}`} role="group" aria-label={`Condition: ${FILTER_LABELS[c.filter] ?? c.filter}`}>
      <div className="field">
        <label htmlFor={field('filter')}>Filter</label>
        <select id={field('filter')} value={c.filter} onChange={(e) => pickFilter(e.target.value)}>
          {byCategory(catalogue).map(([category, entries]) => (
            <optgroup key={category} label={CATEGORY_LABELS[category] ?? category}>
              {entries.map((e) => (
                <option key={e.filter} value={e.filter}>
                  {FILTER_LABELS[e.filter] ?? e.filter}
                </option>
              ))}
            </optgroup>
          ))}
        </select>
      </div>
      {c.filter === 'custom_attribute' ? <TextField id={field('attr')} label="Attribute" value={c.attribute} onChange={(attribute) => set({ attribute })} placeholder="plan" /> : null}
      {c.filter === 'custom_event' ? <TextField id={field('name')} label="Event name" value={c.name} onChange={(name) => set({ name })} placeholder="rented_movie" /> : null}
      {c.filter === 'purchase' ? <TextField id={field('product')} label="Product id (optional)" value={c.productId} onChange={(productId) => set({ productId })} /> : null}
      <div className="field">
        <label htmlFor={field('op')}>Operator</label>
        <select id={field('op')} value={c.op} onChange={(e) => set({ op: e.target.value })}>
          {(entry?.operators ?? [c.op]).map((op) => (
            <option key={op} value={op}>
              {OPERATOR_LABELS[op] ?? op}
            </option>
          ))}
        </select>
      </div>
      {isCohortFilter(c.filter) ? <CohortPicker id={field('cohort')} entry={entry} value={c.value} onChange={(value) => set({ value })} /> : null}
      {c.filter === 'alias_label' ? <TextField id={field('label')} label="Alias label" value={c.value} onChange={(value) => set({ value })} placeholder="mixpanel_id" /> : null}
      {c.filter === 'custom_attribute' && c.op !== 'exists' && c.op !== 'does_not_exist' ? <AttributeValue id={field('value')} condition={c} set={set} /> : null}
      {c.filter === 'custom_event' || c.filter === 'purchase' ? (
        <TextField id={field('count')} label="Times" value={c.count} onChange={(count) => set({ count })} inputMode="numeric" narrow />
      ) : null}
      {c.filter === 'custom_event' || c.filter === 'purchase' || c.filter === 'last_session' ? (
        <TextField id={field('days')} label={c.filter === 'last_session' ? 'Days' : 'In the last … days'} value={c.days} onChange={(days) => set({ days })} inputMode="numeric" narrow />
      ) : null}
      <button type="button" className="button button-small button-ghost remove" onClick={() => onChange(c.id, () => null)} aria-label="Remove this condition">
        Remove
      </button>
    </div>
  );
}

function CohortPicker({ id, entry, value, onChange }: { id: string; entry: CatalogueEntry | undefined; value: string; onChange: (v: string) => void }) {
  const cohorts = entry?.cohorts ?? [];
  return (
    <div className="field field-wide">
      <label htmlFor={id}>Cohort</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)} disabled={!cohorts.length}>
        <option value="">{cohorts.length ? 'Choose a cohort…' : 'No cohorts imported yet'}</option>
        {cohorts.map((c) => (
          <option key={c.id} value={c.id}>
            {c.name} ({c.member_count} members)
          </option>
        ))}
      </select>
    </div>
  );
}

function AttributeValue({ id, condition: c, set }: { id: string; condition: Condition; set: (patch: Partial<Condition>) => void }) {
  const comparesOrder = c.op === 'greater_than' || c.op === 'less_than';
  return (
    <>
      {!comparesOrder ? (
        <div className="field field-narrow">
          <label htmlFor={`${id}-type`}>Type</label>
          <select id={`${id}-type`} value={c.valueType} onChange={(e) => set({ valueType: choice<ValueType>(['text', 'number', 'boolean'], e.target.value, 'text') })}>
            <option value="text">text</option>
            <option value="number">number</option>
            <option value="boolean">true / false</option>
          </select>
        </div>
      ) : null}
      <TextField
        id={id}
        label={c.op === 'in' ? 'Values (comma-separated)' : comparesOrder ? 'Number or ISO date' : 'Value'}
        value={c.value}
        onChange={(value) => set({ value })}
        placeholder={c.valueType === 'boolean' ? 'true' : ''}
      />
    </>
  );
}

function TextField(props: {
  id: string;
  label: string;
  value: string;
  onChange: (v: string) => void;
  placeholder?: string;
  inputMode?: 'numeric';
  narrow?: boolean;
}) {
  return (
    <div className={`field${props.narrow ? ' field-narrow' : ''}`}>
      <label htmlFor={props.id}>{props.label}</label>
      <input id={props.id} value={props.value} placeholder={props.placeholder} inputMode={props.inputMode} onChange={(e) => props.onChange(e.target.value)} />
    </div>
  );
}
