/**
 * What a page shows when it has nothing, is waiting, failed, or needs a server capability that is
 * not there yet. One wording per situation across every page.
 */
import type { ReactNode } from 'react';
import type { ApiFailure } from '../api';

export function Loading({ what }: { what: string }) {
  return (
    <p className="muted" role="status">
      Loading {what}…
    </p>
  );
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <p className="empty-title">{title}</p>
      {children ? <div className="muted">{children}</div> : null}
    </div>
  );
}

export function ErrorMessage({ error, action }: { error: ApiFailure | string; action?: string }) {
  const message = typeof error === 'string' ? error : error.message;
  const details = typeof error === 'string' ? [] : error.details;
  return (
    <div className="notice notice-error" role="alert">
      <strong>{action ? `Could not ${action}: ` : ''}</strong>
      {message}
      {details.length ? (
        <ul>
          {details.slice(0, 8).map((d) => (
            <li key={d}>{d}</li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

export function Unavailable({ feature, needs }: { feature: string; needs: string }) {
  return (
    <div className="notice notice-unavailable" role="status">
      <strong>{feature} is not available on this server yet.</strong> It needs <code>{needs}</code>, which this Rivulet build does not
      provide.
    </div>
  );
}

/** The usual trio: loading, failure (or unavailable), else the content. */
export function Loaded<T>({
  resource,
  what,
  feature,
  needs,
  children,
}: {
  resource: { data: T | undefined; error: ApiFailure | undefined; loading: boolean };
  what: string;
  feature?: string;
  needs?: string;
  children: (data: T) => ReactNode;
}) {
  if (resource.error?.unavailable && feature && needs) return <Unavailable feature={feature} needs={needs} />;
  if (resource.error) return <ErrorMessage error={resource.error} action={`load ${what}`} />;
  if (resource.data === undefined) return <Loading what={what} />;
  return <>{children(resource.data)}</>;
}
