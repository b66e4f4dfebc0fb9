/** A dashboard path that names no page. */
import { PageHeader } from '../components/ui';
import { Link } from '../router';

export function NotFound() {
  return (
    <>
      <PageHeader title="Page not found" />
      <p>
        There is no such page. Start from <Link to="/partners/mixpanel">Mixpanel</Link> or <Link to="/cohorts">Cohorts</Link>.
      </p>
    </>
  );
}
