// Projects: the user's role in each and quota usage as bars; a project's page has an Overview tab
// (quota, members, flavors and images; its admins and superusers manage the members, spec §6) and
// an API Keys tab (the user's keys bound to the project, spec §6 and §8).
import { useQuery } from '@tanstack/react-query';
import { type FormEvent, useId, useState } from 'react';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router';
import { ApiKeys, ApiKeysUnavailable } from '../ApiKeys';
import type { Project, ProjectMember } from '../api';
import { flavorsQuery, imagesQuery, membersQuery, projectQuery, projectsQuery, useRemoveMember, useSetMember } from '../queries';
import { useSession } from '../session';
import { CopyableId, Dialog, Empty, ErrorText, LoadError, Loading, QuotaBar, Tabs, useTitle } from '../ui';
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
      <Members project={project} />
      <Flavors projectId={project.id} />
      <Images projectId={project.id} />
    </>
  );
}

/** The sizes a VM of the project can have (`flavor_name` of POST /api/vms/). */
function Flavors({ projectId }: { projectId: number }) {
  const flavors = useQuery(flavorsQuery(projectId));
  return (
    <section aria-labelledby="flavors-title">
      <h2 id="flavors-title">Flavors</h2>
      {flavors.isPending ? <Loading what="flavors" /> : null}
      {flavors.error ? <LoadError error={flavors.error} retry={() => void flavors.refetch()} /> : null}
      {flavors.data && flavors.data.length === 0 ? <p className="empty">The cloud offers this project no flavors.</p> : null}
      {flavors.data && flavors.data.length > 0 ? (
        <table className="list">
          <caption className="visually-hidden">Flavors of the project</caption>
          <thead>
            <tr>
              <th scope="col">Flavor</th>
              <th scope="col">vCPUs</th>
              <th scope="col">RAM</th>
              <th scope="col">Disk</th>
            </tr>
          </thead>
          <tbody>
            {flavors.data.map((f) => (
              <tr key={f.name} data-flavor={f.name}>
                <th scope="row">{f.name}</th>
                <td data-label="vCPUs">{f.vcpus}</td>
                <td data-label="RAM">{f.ram_gb} GB</td>
                <td data-label="Disk">{f.disk_gb} GB</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

/** The images a VM of the project can start from (`image_name`), with the project's active snapshots. */
function Images({ projectId }: { projectId: number }) {
  const images = useQuery(imagesQuery(projectId));
  return (
    <section aria-labelledby="images-title">
      <h2 id="images-title">Images</h2>
      {images.isPending ? <Loading what="images" /> : null}
      {images.error ? <LoadError error={images.error} retry={() => void images.refetch()} /> : null}
      {images.data && images.data.length === 0 ? <p className="empty">The cloud offers this project no images.</p> : null}
      {images.data && images.data.length > 0 ? (
        <table className="list">
          <caption className="visually-hidden">Images of the project</caption>
          <thead>
            <tr>
              <th scope="col">Image</th>
              <th scope="col">Tags</th>
            </tr>
          </thead>
          <tbody>
            {images.data.map((i) => (
              <tr key={i.name} data-image={i.name}>
                <th scope="row">{i.name}</th>
                <td data-label="Tags">
                  {i.tags.length > 0 ? (
                    <ul className="scopes">
                      {i.tags.map((tag) => (
                        <li key={tag}>{tag}</li>
                      ))}
                    </ul>
                  ) : (
                    '—'
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

const otherRole = (role: ProjectMember['role']): ProjectMember['role'] => (role === 'admin' ? 'member' : 'admin');

/**
 * The members and their roles. The project's admins and superusers add members, set their roles
 * and remove them (with a confirmation); the API's refusals (an unknown user, the last admin) show
 * where they were asked for. Others see the list only.
 */
function Members({ project }: { project: Project }) {
  const { me } = useSession();
  const navigate = useNavigate();
  const members = useQuery(membersQuery(project.id));
  const manage = me.is_superuser || project.role === 'admin';
  const roleChange = useSetMember();
  const remove = useRemoveMember();
  const [removing, setRemoving] = useState<ProjectMember | null>(null);
  // What the last change did, said once (a screen reader hears it too).
  const [notice, setNotice] = useState('');

  const setRole = (m: ProjectMember) => {
    const role = otherRole(m.role);
    setNotice('');
    roleChange.mutate({ projectId: project.id, username: m.username, role }, { onSuccess: () => setNotice(`${m.username} is now ${role}.`) });
  };

  const confirmRemove = () => {
    if (!removing) return;
    const { username } = removing;
    remove.mutate(
      { projectId: project.id, username },
      {
        onSuccess: () => {
          setRemoving(null);
          setNotice(`${username} is no longer a member.`);
          // Out of the project: its page is no longer the user's to see (a superuser still sees it).
          if (username === me.username && !me.is_superuser) void navigate('/projects');
        },
      },
    );
  };

  return (
    <section aria-labelledby="members-title">
      <h2 id="members-title">Members</h2>
      {manage ? <p className="hint">Admins manage the members and reach every VM, volume and snapshot of the project; members reach their own.</p> : null}
      {members.isPending ? <Loading what="members" /> : null}
      {members.error && !members.data ? <LoadError error={members.error} retry={() => void members.refetch()} /> : null}
      {members.data && members.data.length === 0 ? <p className="empty">This project has no members yet.</p> : null}
      {members.data && members.data.length > 0 ? (
        <table className="list members">
          <caption className="visually-hidden">Members of {project.name}</caption>
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Role</th>
              {manage ? (
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              ) : null}
            </tr>
          </thead>
          <tbody>
            {members.data.map((m) => {
              const changing = roleChange.variables?.username === m.username;
              return (
                <tr key={m.username} data-member={m.username}>
                  <th scope="row">{m.username}</th>
                  <td data-label="Role">{roleText(m.role)}</td>
                  {manage ? (
                    <td className="row-actions">
                      <button
                        type="button"
                        aria-label={`Make ${otherRole(m.role)} (${m.username})`}
                        disabled={roleChange.isPending}
                        onClick={() => setRole(m)}
                      >
                        Make {otherRole(m.role)}
                      </button>
                      <button
                        type="button"
                        className="danger"
                        aria-label={`Remove ${m.username}`}
                        onClick={() => {
                          remove.reset();
                          setRemoving(m);
                        }}
                      >
                        Remove
                      </button>
                      {changing && roleChange.error ? <ErrorText error={roleChange.error} /> : null}
                    </td>
                  ) : null}
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : null}
      <p role="status" className="success">
        {notice}
      </p>
      {manage ? <AddMemberForm project={project} members={members.data ?? []} onDone={setNotice} /> : null}
      {removing ? (
        <Dialog
          title={`Remove ${removing.username} from ${project.name}?`}
          submitLabel="Remove member"
          danger
          busy={remove.isPending}
          error={remove.error}
          onCancel={() => setRemoving(null)}
          onSubmit={confirmRemove}
        >
          <p>
            {removing.username === me.username && !me.is_superuser ? 'You will' : `${removing.username} will`} no longer reach the project. What they
            created stays in it, seen by its admins.
          </p>
        </Dialog>
      ) : null}
    </section>
  );
}

/** Adds a user by name, or sets the role of one who is a member already. */
function AddMemberForm({ project, members, onDone }: { project: Project; members: ProjectMember[]; onDone: (notice: string) => void }) {
  const [username, setUsername] = useState('');
  const [role, setRole] = useState<ProjectMember['role']>('member');
  const add = useSetMember();
  const ids = useId();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const name = username.trim();
    if (!name) return;
    const was = members.find((m) => m.username === name);
    onDone('');
    add.mutate(
      { projectId: project.id, username: name, role },
      {
        onSuccess: (member) => {
          setUsername('');
          onDone(was ? `${member.username} is now ${member.role}.` : `${member.username} was added as ${member.role}.`);
        },
      },
    );
  };

  const usernameError = add.error?.errors?.username?.join(' ');
  const otherError = add.error && !usernameError ? add.error : null;
  return (
    <form className="card inline-form add-member" onSubmit={submit} aria-labelledby={`${ids}-title`}>
      <h3 id={`${ids}-title`}>Add a member</h3>
      <div className="row">
        <div className="field">
          <label htmlFor={`${ids}-username`}>Username</label>
          <input
            id={`${ids}-username`}
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            required
            maxLength={150}
            autoComplete="off"
            spellCheck={false}
            aria-invalid={usernameError ? true : undefined}
            aria-describedby={usernameError ? `${ids}-username-error` : undefined}
          />
        </div>
        <div className="field">
          <label htmlFor={`${ids}-role`}>Role</label>
          <select id={`${ids}-role`} value={role} onChange={(e) => setRole(e.target.value as ProjectMember['role'])}>
            <option value="member">Member</option>
            <option value="admin">Admin</option>
          </select>
        </div>
        <button type="submit" className="primary" disabled={add.isPending}>
          {add.isPending ? 'Adding…' : 'Add member'}
        </button>
      </div>
      {usernameError ? <ErrorText error={usernameError} id={`${ids}-username-error`} /> : null}
      <ErrorText error={otherError} />
      <p className="hint">A member already: their role is set to the one chosen.</p>
    </form>
  );
}

/** The API Keys tab: for users the beta gate excludes, a sentence instead (spec §6: it says so rather than vanishing). */
function ProjectKeys({ project }: { project: Project }) {
  const { me } = useSession();
  if (!me.api_keys_enabled) return <ApiKeysUnavailable />;
  return <ApiKeys project={{ id: project.id, name: project.name }} />;
}
