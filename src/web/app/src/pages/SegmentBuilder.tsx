/**
 * Builds or edits a segment: name, description and the filter tree. While the filter is edited,
 * the reachable count is asked of the server (debounced) so the operator sees the audience size
 * before saving. A saved segment offers its member export as CSV or NDJSON.
 */
import { useCallback, useEffect, useMemo, useState, type FormEvent } from 'react';
import { ApiFailure, del, post, put } from '../api';
import { ErrorMessage, Loaded } from '../components/feedback';
import { ConfirmButton, PageHeader, Section } from '../components/ui';
import { count } from '../format';
import { useDebounced, useResource } from '../hooks';
import { Link, navigate } from '../router';
import { GroupEditor } from '../segments/FilterEditor';
import { fromFilter, newGroup, toFilter, updateNode, type EditorNode, type Group } from '../segments/model';
import { type CatalogueEntry, FilterCatalogue, NoContent, Segment, SegmentCount } from '../types';

export function SegmentBuilder({ id }: { id?: string }) {
  const catalogue = useResource(FilterCatalogue, '/admin/segments/filters');
  const existing = useResource(Segment, id ? `/admin/segments/${id}` : null);
  return (
    <Loaded resource={catalogue} what="the filter catalogue" feature="The segment builder" needs="GET /admin/segments/filters">
      {(cat) =>
        id ? (
          <Loaded resource={existing} what="the segment">
            {(segment) => <Builder key={segment.id} catalogue={cat.filters} segment={segment} />}
          </Loaded>
        ) : (
          <Builder catalogue={cat.filters} />
        )
      }
    </Loaded>
  );
}

type Preview = { state: 'idle' | 'counting' | 'done' | 'incomplete' | 'failed'; count?: number; message?: string };

function usePreviewCount(filterJson: string | undefined): Preview {
  const debounced = useDebounced(filterJson, 400);
  const [preview, setPreview] = useState<Preview>({ state: 'idle' });
  useEffect(() => {
    if (filterJson === undefined) setPreview({ state: 'incomplete' });
    else setPreview((p) => ({ ...p, state: 'counting' }));
  }, [filterJson]);
  useEffect(() => {
    if (debounced === undefined) return;
    let live = true;
    const filter: unknown = JSON.parse(debounced);
    post(SegmentCount, '/admin/segments/preview-count', { filter })
      .then((r) => live && setPreview({ state: 'done', count: r.count }))
      .catch((e: unknown) => live && setPreview({ state: 'failed', message: e instanceof ApiFailure ? [e.message, ...e.details].join(' — ') : String(e) }));
    return () => {
      live = false;
    };
  }, [debounced]);
  return preview;
}

function Builder({ catalogue, segment }: { catalogue: CatalogueEntry[]; segment?: Segment }) {
  const [name, setName] = useState(segment?.name ?? '');
  const [description, setDescription] = useState(segment?.description ?? '');
  const [root, setRoot] = useState<Group>(() => (segment ? fromFilter(segment.filter) : newGroup('and')));
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<ApiFailure | undefined>(undefined);
  const [saved, setSaved] = useState(false);

  const translation = useMemo(() => toFilter(root), [root]);
  const filterJson = translation.ok ? JSON.stringify(translation.filter) : undefined;
  const preview = usePreviewCount(filterJson);
  const onChange = useCallback((nodeId: string, change: (n: EditorNode) => EditorNode | null) => {
    setSaved(false);
    setRoot((r) => updateNode(r, nodeId, change));
  }, []);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (!translation.ok) return;
    setSaving(true);
    setError(undefined);
    const body = { name: name.trim(), description: description.trim() || null, filter: translation.filter };
    try {
      if (segment) await put(Segment, `/admin/segments/${segment.id}`, body);
      else {
        const created = await post(Segment, '/admin/segments', body);
        navigate(`/segments/${created.id}`, { replace: true });
      }
      setSaved(true);
    } catch (err) {
      setError(err instanceof ApiFailure ? err : new ApiFailure(0, String(err)));
    } finally {
      setSaving(false);
    }
  };

  const remove = async () => {
    if (!segment) return;
    try {
      await del(NoContent, `/admin/segments/${segment.id}`);
      navigate('/segments');
    } catch (err) {
      setError(err instanceof ApiFailure ? err : new ApiFailure(0, String(err)));
    }
  };

  return (
    <form onSubmit={(e) => void save(e)} className="builder">
      <PageHeader title={segment ? segment.name : 'New segment'} subtitle={<><Link to="/segments">Segments</Link> › {segment ? 'edit' : 'build a new audience'}</>} />
      <div className="builder-grid">
        <div>
          <Section title="Details">
            <div className="grid-2">
              <div className="field">
                <label htmlFor="segment-name">Name</label>
                <input id="segment-name" required maxLength={255} value={name} onChange={(e) => (setName(e.target.value), setSaved(false))} />
              </div>
              <div className="field">
                <label htmlFor="segment-description">Description (optional)</label>
                <input id="segment-description" maxLength={1000} value={description} onChange={(e) => (setDescription(e.target.value), setSaved(false))} />
              </div>
            </div>
          </Section>
          <Section title="Filters">
            <GroupEditor group={root} depth={0} catalogue={catalogue} problemId={translation.ok ? undefined : translation.nodeId} onChange={onChange} />
          </Section>
        </div>
        <aside className="card reach" aria-labelledby="reach-title">
          <h2 id="reach-title">Reachable users</h2>
          <p className="reach-count" aria-live="polite" data-testid="reachable-count" data-state={preview.state}>
            {preview.state === 'done' || (preview.state === 'counting' && preview.count !== undefined) ? count(preview.count) : '—'}
          </p>
          <p className="muted small" role="status">
            {preview.state === 'counting' ? 'Counting…' : preview.state === 'incomplete' && !translation.ok ? `Incomplete: ${translation.problem}.` : preview.state === 'done' ? 'Updated as you edit.' : ''}
          </p>
          {preview.state === 'failed' ? <ErrorMessage error={preview.message ?? 'count failed'} action="count" /> : null}
          {error ? <ErrorMessage error={error} action="save the segment" /> : null}
          <button type="submit" className="button button-primary" disabled={saving || !translation.ok || !name.trim()}>
            {saving ? 'Saving…' : segment ? 'Save changes' : 'Save segment'}
          </button>
          {saved ? (
            <p className="muted small" role="status">
              Saved.
            </p>
          ) : null}
          {segment ? (
            <div className="export">
              <h3>Export members</h3>
              <a className="button button-small" href={`/admin/segments/${segment.id}/export?format=csv`} download>
                CSV
              </a>{' '}
              <a className="button button-small" href={`/admin/segments/${segment.id}/export?format=ndjson`} download>
                NDJSON
              </a>
              <div className="danger-zone">
                <ConfirmButton confirm="Delete this segment" onConfirm={() => void remove()}>
                  Delete segment
                </ConfirmButton>
              </div>
            </div>
          ) : null}
        </aside>
      </div>
    </form>
  );
}
