/** Which page a path shows, behind the sign-in. */
import { Layout } from './components/Layout';
import { Loading } from './components/feedback';
import { CampaignComposer } from './pages/CampaignComposer';
import { Canvases } from './pages/Canvases';
import { Campaigns } from './pages/Campaigns';
import { CohortPage } from './pages/CohortPage';
import { Cohorts } from './pages/Cohorts';
import { CreateCurrent } from './pages/CreateCurrent';
import { CurrentPage } from './pages/CurrentPage';
import { Currents } from './pages/Currents';
import { MixpanelPartner } from './pages/MixpanelPartner';
import { NotFound } from './pages/NotFound';
import { SegmentBuilder } from './pages/SegmentBuilder';
import { Segments } from './pages/Segments';
import { SignIn } from './pages/SignIn';
import { Usage } from './pages/Usage';
import { Users } from './pages/Users';
import { match, navigate, usePath } from './router';
import { useSession } from './session';
import { lazy, Suspense, useEffect } from 'react';

// The builder carries the diagram library: loaded when a Canvas is opened, not with every page.
const CanvasBuilder = lazy(() => import('./pages/CanvasBuilder').then((m) => ({ default: m.CanvasBuilder })));

function Page({ path }: { path: string }) {
  let p: Record<string, string> | null;
  if (path === '/partners/mixpanel') return <MixpanelPartner />;
  if (path === '/cohorts') return <Cohorts />;
  if ((p = match('/cohorts/:id', path))) return <CohortPage key={p.id} id={p.id!} />;
  if (path === '/segments') return <Segments />;
  if (path === '/segments/new') return <SegmentBuilder key="new" />;
  if ((p = match('/segments/:id', path))) return <SegmentBuilder key={p.id} id={p.id!} />;
  if (path === '/currents') return <Currents />;
  if (path === '/currents/new') return <CreateCurrent />;
  if ((p = match('/currents/:id', path))) return <CurrentPage key={p.id} id={p.id!} />;
  if (path === '/users') return <Users />;
  if (path === '/usage') return <Usage />;
  if (path === '/campaigns') return <Campaigns />;
  if (path === '/campaigns/new') return <CampaignComposer key="new" />;
  if ((p = match('/campaigns/:id', path))) return <CampaignComposer key={p.id} id={p.id!} />;
  if (path === '/canvases') return <Canvases />;
  if (path === '/canvases/new')
    return (
      <Suspense fallback={<Loading what="the Canvas builder" />}>
        <CanvasBuilder key="new" />
      </Suspense>
    );
  if ((p = match('/canvases/:id', path)))
    return (
      <Suspense fallback={<Loading what="the Canvas builder" />}>
        <CanvasBuilder key={p.id} id={p.id!} />
      </Suspense>
    );
  return <NotFound />;
}

export function App() {
  const session = useSession();
  const path = usePath();
  useEffect(() => {
    if (path === '/' && session.state === 'signed-in') navigate('/partners/mixpanel', { replace: true });
  }, [path, session.state]);
  if (session.state === 'checking') return <Loading what="the dashboard" />;
  if (session.state === 'signed-out') return <SignIn />;
  return (
    <Layout path={path}>
      <Page path={path} />
    </Layout>
  );
}
