/** The event types of a Current as checkboxes, grouped as the catalogue groups them, with select-all per group and overall. */
import { useEffect, useId, useRef } from 'react';
import type { EventTypeGroup } from './api';

interface PickerProps {
  groups: EventTypeGroup[];
  selected: Set<string>;
  onChange: (next: Set<string>) => void;
}

function TriStateBox({ label, all, some, onToggle }: { label: string; all: boolean; some: boolean; onToggle: (on: boolean) => void }) {
  const ref = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (ref.current) ref.current.indeterminate = some && !all;
  }, [all, some]);
  return (
    <label className="check check-strong">
      <input ref={ref} type="checkbox" checked={all} onChange={(e) => onToggle(e.target.checked)} />
      {label}
    </label>
  );
}

export function EventTypePicker({ groups, selected, onChange }: PickerProps) {
  const id = useId();
  const every = groups.flatMap((g) => g.types.map((t) => t.type));
  const setMany = (types: string[], on: boolean) => {
    const next = new Set(selected);
    for (const t of types) if (on) next.add(t);
    else next.delete(t);
    onChange(next);
  };
  return (
    <div className="event-types">
      <div className="event-types-head">
        <TriStateBox label={`Select all (${every.length} types)`} all={every.every((t) => selected.has(t))} some={every.some((t) => selected.has(t))} onToggle={(on) => setMany(every, on)} />
        <span className="muted" aria-live="polite">
          {selected.size} selected
        </span>
      </div>
      <div className="event-groups">
        {groups.map((g) => {
          const types = g.types.map((t) => t.type);
          return (
            <fieldset key={g.label} className="event-group">
              <legend>
                <TriStateBox
                  label={`${g.label} (${types.length})`}
                  all={types.every((t) => selected.has(t))}
                  some={types.some((t) => selected.has(t))}
                  onToggle={(on) => setMany(types, on)}
                />
              </legend>
              <ul className="plain">
                {g.types.map((t) => (
                  <li key={t.type}>
                    <label className="check" htmlFor={`${id}-${t.type}`}>
                      <input id={`${id}-${t.type}`} type="checkbox" checked={selected.has(t.type)} onChange={(e) => setMany([t.type], e.target.checked)} />
                      <span>
                        {t.mixpanel_event ?? t.type}
                        <span className="muted small"> {t.type.replace(/^users\./, '')}</span>
                      </span>
                    </label>
                  </li>
                ))}
              </ul>
            </fieldset>
          );
        })}
      </div>
    </div>
  );
}
