// Projects: the user's role in each, the members, and quota usage as bars; a project's page has
// an Overview tab and an API Keys tab (the user's keys bound to the project, spec §6 and §8).
import { useQuery } from '@tanstack/react-query';
import { Link, useParams, useSearchParams } from 'react-router';
import { ApiKeys, ApiKeysUnavailable } from '../ApiKeys';
import type { Project } from '../api';
import { projectQuery, projectsQuery } from '../queries';
import { useSession } from '../session';
import { CopyableId, Empty, LoadError, Loading, QuotaBar, Tabs, useTitle } from '../ui';
import { NotFoundPage } from './NotFoundPage';

const roleText = (role: Project['role']) => (role === 'admin' ? 'Admin' : role === 'member' ? 'Member' : 'Not a member (superuser)');

export function ProjectsPage() {
  useTitle('Projects');
  const projects = useQuery(projectsQuery);
  return (
    <>
      <h1>Projects</h1>
      {projects.isPending ? <Loading what="projects" /> : null}
      {projects.error && !projects.data ? <LoadError error={projects.error} retry={() => void projects.refetch()} /> : null}
      {projects.data && projects.data.length === 0 ? (
        <Empty>
          <p>You are not a member of any project yet. A project admin can add you.</p>
        </Empty>
      ) : null}
      {projects.data && projects.data.length > 0 ? (
        <ul className="cards">
          {projects.data.map((p) => (
            <li key={p.id} className="card">
              <h2>
                <Link to={`/projects/${p.id}`}>{p.name}</Link>
              </h2>
              {p.description ? <p>{p.description}</p> : null}
              <p className="hint">Your role: {roleText(p.role)}</p>
              <ProjectQuota id={p.id} />
            </li>
          ))}
        </ul>
      ) : null}
    </>
  );
}

function ProjectQuota({ id }: { id: number }) {
  const project = useQuery(projectQuery(id));
  if (project.isPending) return <Loading what="quota" />;
  if (project.error || !project.data) return project.error ? <LoadError error={project.error} retry={() => void project.refetch()} /> : null;
  return <QuotaBars project={project.data} />;
}

function QuotaBars({ project }: { project: Project }) {
  const { quota, usage } = project;
  return (
    <div className="quotas" role="group" aria-label={`Quota of ${project.name}`}>
      <QuotaBar label="VMs" used={usage.vms} quota={quota.vms} />
      <QuotaBar label="Cores" used={usage.cores} quota={quota.cores} />
      <QuotaBar label="RAM" used={usage.ram_gb} quota={quota.ram_gb} unit="GB" />
      <QuotaBar label="Volumes" used={usage.volumes} quota={quota.volumes} />
      <QuotaBar label="Volume storage" used={usage.volume_gb} quota={quota.volume_gb} unit="GB" />
    </div>
  );
}

/** /projects/:id; an id that is not a number is no page of this app. */
export function ProjectPage() {
  const { id = '' } = useParams();
  return /^\d+$/.test(id) ? <ProjectDetail id={Number(id)} /> : <NotFoundPage />;
}

const PROJECT_TABS = [
  { id: 'overview', label: 'Overview' },
  { id: 'keys', label: 'API Keys' },
] as const;
type ProjectTab = (typeof PROJECT_TABS)[number]['id'];

function ProjectDetail({ id }: { id: number }) {
  const project = useQuery(projectQuery(id));
  useTitle(project.data?.name ?? 'Project');
  // The open tab is in the address (`?tab=keys`), so a link or a reload opens it again.
  const [params, setParams] = useSearchParams();
  const tab: ProjectTab = params.get('tab') === 'keys' ? 'keys' : 'overview';
  const selectTab = (next: ProjectTab) =>
    setParams(
      (current) => {
        const updated = new URLSearchParams(current);
        if (next === 'overview') updated.delete('tab');
        else updated.set('tab', next);
        return updated;
      },
      // Switching tabs stays on the page: Back leaves it rather than stepping through the tabs.
      { replace: true },
    );
  return (
    <>
      <p className="breadcrumb">
        <Link to="/projects">Projects</Link>
      </p>
      {project.isPending ? <Loading what="the project" /> : null}
      {project.error && !project.data ? <LoadError error={project.error} retry={() => void project.refetch()} /> : null}
      {project.data ? (
        <>
          <h1>{project.data.name}</h1>
          {project.data.description ? <p>{project.data.description}</p> : null}
          <p>Your role: {roleText(project.data.role)}</p>
          {/* What the API and the CLI take as project_id. */}
          <p className="project-id">
            Project id: <CopyableId id={project.data.id} label="Copy project id" testId="project-id" />
          </p>
          <Tabs label={`Project ${project.data.name}`} tabs={PROJECT_TABS} selected={tab} onSelect={selectTab}>
            {tab === 'keys' ? <ProjectKeys project={project.data} /> : <ProjectOverview project={project.data} />}
          </Tabs>
        </>
      ) : null}
    </>
  );
}

function ProjectOverview({ project }: { project: Project }) {
  return (
    <>
      <p className="links">
        <Link to={`/vms?project=${project.id}`}>VMs of this project</Link> · <Link to={`/volumes?project=${project.id}`}>Volumes of this project</Link>
      </p>
      <section aria-labelledby="quota-title">
        <h2 id="quota-title">Quota usage</h2>
        <QuotaBars project={project} />
      </section>
      <section aria-labelledby="members-title">
        <h2 id="members-title">Members</h2>
        {project.members.length === 0 ? (
          <p className="empty">This project has no members yet.</p>
        ) : (
          <table className="list">
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Role</th>
              </tr>
            </thead>
            <tbody>
              {project.members.map((m) => (
                <tr key={m.username}>
                  <th scope="row">{m.username}</th>
                  <td data-label="Role">{roleText(m.role)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}

/** The API Keys tab: for users the beta gate excludes, a sentence instead (spec §6: it says so rather than vanishing). */
function ProjectKeys({ project }: { project: Project }) {
  const { me } = useSession();
  if (!me.api_keys_enabled) return <ApiKeysUnavailable />;
  return <ApiKeys project={{ id: project.id, name: project.name }} />;
}
