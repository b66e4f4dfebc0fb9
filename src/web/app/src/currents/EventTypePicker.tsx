/**
 * The event types of a Current as checkboxes, grouped as the catalogue groups them (Behaviors,
 * Campaigns, Canvas, Messages — messages again by channel), with select-all overall, per group and
 * per channel. A partly selected group shows its box as indeterminate.
 */
import { useEffect, useId, useRef } from 'react';
import type { EventTypeGroup } from './api';

interface PickerProps {
  groups: EventTypeGroup[];
  selected: Set<string>;
  onChange: (next: Set<string>) => void;
}

function TriStateBox({ label, types, selected, setMany, strong = true }: { label: string; types: string[]; selected: Set<string>; setMany: (types: string[], on: boolean) => void; strong?: boolean }) {
  const ref = useRef<HTMLInputElement>(null);
  const all = types.length > 0 && types.every((t) => selected.has(t));
  const some = types.some((t) => selected.has(t));
  useEffect(() => {
    if (ref.current) ref.current.indeterminate = some && !all;
  }, [all, some]);
  return (
    <label className={`check${strong ? ' check-strong' : ''}`}>
      <input ref={ref} type="checkbox" checked={all} onChange={(e) => setMany(types, e.target.checked)} />
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
  const typeList = (types: EventTypeGroup['types'], className = 'plain') => (
    <ul className={className}>
      {types.map((t) => (
        <li key={t.type}>
          <label className="check" htmlFor={`${id}-${t.type}`}>
            <input id={`${id}-${t.type}`} type="checkbox" checked={selected.has(t.type)} onChange={(e) => setMany([t.type], e.target.checked)} />
            <span>
              {t.mixpanel_event ?? t.type}
              <span className="muted small"> {t.type.replace(/^users\.(behaviors|campaigns|canvas|messages)\./, '')}</span>
            </span>
          </label>
        </li>
      ))}
    </ul>
  );
  return (
    <div className="event-types">
      <div className="event-types-head">
        <TriStateBox label={`Select all (${every.length} types)`} types={every} selected={selected} setMany={setMany} />
        <span className="muted" aria-live="polite">
          {selected.size} selected
        </span>
      </div>
      <div className="event-groups">
        {groups.map((g) => (
          <fieldset key={g.label} className="event-group">
            <legend>
              <TriStateBox label={`${g.label} (${g.types.length})`} types={g.types.map((t) => t.type)} selected={selected} setMany={setMany} />
            </legend>
            {g.channels?.length
              ? g.channels.map((c) => {
                  const types = g.types.filter((t) => t.channel === c.channel);
                  return (
                    <div key={c.channel} className="channel">
                      <TriStateBox label={`${c.label} (${types.length})`} types={types.map((t) => t.type)} selected={selected} setMany={setMany} strong={false} />
                      {typeList(types, 'plain channel-list')}
                    </div>
                  );
                })
              : typeList(g.types)}
          </fieldset>
        ))}
      </div>
    </div>
  );
}
