/** Data loading for pages: one GET with loading, error and reload, and a debounced value. */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { Static, TSchema } from 'typebox';
import { ApiFailure, get } from './api';

export interface Resource<T> {
  data: T | undefined;
  error: ApiFailure | undefined;
  loading: boolean;
  reload: () => void;
}

/** GETs `path` (null: nothing yet) and checks the answer against `schema`, its route's response schema. */
export function useResource<S extends TSchema>(schema: S, path: string | null, opts: { refreshMs?: number } = {}): Resource<Static<S>> {
  const [data, setData] = useState<Static<S> | undefined>(undefined);
  // The schema is a module constant in practice; a ref keeps a new object from reloading the resource.
  const schemaRef = useRef(schema);
  schemaRef.current = schema;
  const [error, setError] = useState<ApiFailure | undefined>(undefined);
  const [loading, setLoading] = useState(path !== null);
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);

  useEffect(() => {
    if (path === null) return;
    let live = true;
    setLoading(true);
    get(schemaRef.current, path)
      .then((d) => {
        if (!live) return;
        setData(d);
        setError(undefined);
      })
      .catch((e: unknown) => {
        if (live) setError(e instanceof ApiFailure ? e : new ApiFailure(0, String(e)));
      })
      .finally(() => {
        if (live) setLoading(false);
      });
    return () => {
      live = false;
    };
  }, [path, tick]);

  useEffect(() => {
    if (!opts.refreshMs || path === null) return;
    const timer = window.setInterval(reload, opts.refreshMs);
    return () => window.clearInterval(timer);
  }, [opts.refreshMs, path, reload]);

  return { data, error, loading, reload };
}

export function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = window.setTimeout(() => setDebounced(value), ms);
    return () => window.clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}

/** Whether the component is still mounted, for async handlers that set state. */
export function useMounted(): () => boolean {
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);
  return useCallback(() => mounted.current, []);
}
