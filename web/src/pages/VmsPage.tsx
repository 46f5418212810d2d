// VMs of the user's projects with their live status; actions enabled only where the state allows.
import { useState } from 'react';
import { type ApiError, type Vm, api, query } from '../api';
import { ProjectSelect } from '../ProjectSelect';
import { Link, setParams, useLocation } from '../router';
import { projectName, useSession } from '../session';
import { type VmAction, vmActionAllowed, vmInTransition } from '../states';
import { Dialog, Empty, ErrorText, ListPager, LoadError, Loading, toApiError, usePagedResource, usePolling, useTitle } from '../ui';

const ACTIONS: { action: Exclude<VmAction, 'delete'>; label: string }[] = [
  { action: 'resume', label: 'Start' },
  { action: 'stop', label: 'Stop' },
  { action: 'reboot', label: 'Reboot' },
];

export function VmsPage() {
  useTitle('VMs');
  const { projects } = useSession();
  const { params } = useLocation();
  const projectId = params.get('project') ?? '';
  const vms = usePagedResource<Vm>('/api/vms/', { project_id: projectId });
  const [rowErrors, setRowErrors] = useState<Record<string, ApiError>>({});
  const [pending, setPending] = useState<Record<string, boolean>>({});
  const [deleting, setDeleting] = useState<Vm | null>(null);
  const [deleteError, setDeleteError] = useState<ApiError | null>(null);

  const rows = vms.data?.results ?? [];
  usePolling(rows.some(vmInTransition), vms.reload, vms.data);

  const replaceVm = (vm: Vm) =>
    vms.setData((d) => ({ ...d, results: d.results.map((v) => (v.openstack_id === vm.openstack_id ? vm : v)) }));

  const act = async (vm: Vm, action: Exclude<VmAction, 'delete'>) => {
    setPending((p) => ({ ...p, [vm.openstack_id]: true }));
    setRowErrors(({ [vm.openstack_id]: _, ...rest }) => rest);
    try {
      replaceVm(await api.post<Vm>(`/api/vms/${encodeURIComponent(vm.openstack_id)}/action/`, { os_action: action }));
    } catch (e) {
      setRowErrors((r) => ({ ...r, [vm.openstack_id]: toApiError(e) }));
    } finally {
      setPending(({ [vm.openstack_id]: _, ...rest }) => rest);
    }
  };

  const confirmDelete = async () => {
    if (!deleting) return;
    setPending((p) => ({ ...p, [deleting.openstack_id]: true }));
    try {
      replaceVm(await api.del<Vm>(`/api/vms/${encodeURIComponent(deleting.openstack_id)}/`));
      setDeleting(null);
    } catch (e) {
      setDeleteError(toApiError(e));
    } finally {
      setPending(({ [deleting.openstack_id]: _, ...rest }) => rest);
    }
  };

  return (
    <>
      <div className="page-head">
        <h1>VMs</h1>
        <Link className="button primary" href={`/vms/new${query({ project: projectId })}`}>
          New VM
        </Link>
      </div>
      <div className="filters">
        <ProjectSelect
          id="vms-project"
          label="Project"
          projects={projects.data ?? []}
          value={projectId}
          anyLabel="All projects"
          onChange={(v) => setParams({ project: v, page: null })}
        />
      </div>
      <ErrorText error={projects.error} />
      {vms.loading && !vms.data ? <Loading what="VMs" /> : null}
      {vms.error && !vms.data ? <LoadError error={vms.error} retry={vms.reload} /> : null}
      {vms.error && vms.data ? <ErrorText error={vms.error} /> : null}
      {vms.data && rows.length === 0 ? (
        <Empty>
          <p>{projectId ? 'No VMs in this project yet.' : 'You have no VMs yet.'}</p>
          <Link className="button primary" href={`/vms/new${query({ project: projectId })}`}>
            Create a VM
          </Link>
        </Empty>
      ) : null}
      {rows.length > 0 ? (
        <table className="list">
          <caption className="visually-hidden">VMs</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Status</th>
              <th scope="col">Project</th>
              <th scope="col">Image</th>
              <th scope="col">Flavor</th>
              <th scope="col">IP address</th>
              <th scope="col">Owner</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((vm) => {
              const busy = Boolean(pending[vm.openstack_id]);
              const error = rowErrors[vm.openstack_id];
              const errorId = `vm-error-${vm.openstack_id}`;
              return (
                <tr key={vm.openstack_id} data-vm={vm.name}>
                  <th scope="row">{vm.name}</th>
                  <td>
                    <span className={`status status-${vm.status.toLowerCase()}`} data-testid="vm-status">
                      {vm.status}
                    </span>
                    {vm.task_state ? (
                      <span className="task" data-testid="vm-task">
                        {vm.task_state}…
                      </span>
                    ) : null}
                    {vm.fault ? <span className="fault">{vm.fault}</span> : null}
                  </td>
                  <td>{projectName(projects.data, vm.project_id)}</td>
                  <td>{vm.image_name}</td>
                  <td>{vm.flavor_name}</td>
                  <td>{vm.fixed_ip ?? '—'}</td>
                  <td>{vm.owner}</td>
                  <td className="row-actions">
                    {ACTIONS.map(({ action, label }) => (
                      <button
                        key={action}
                        type="button"
                        aria-label={`${label} ${vm.name}`}
                        aria-describedby={error ? errorId : undefined}
                        disabled={busy || !vmActionAllowed(vm, action)}
                        onClick={() => void act(vm, action)}
                      >
                        {label}
                      </button>
                    ))}
                    <button
                      type="button"
                      className="danger"
                      aria-label={`Delete ${vm.name}`}
                      disabled={busy || !vmActionAllowed(vm, 'delete')}
                      onClick={() => {
                        setDeleteError(null);
                        setDeleting(vm);
                      }}
                    >
                      Delete
                    </button>
                    <ErrorText error={error} id={errorId} />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : null}
      <ListPager list={vms} />
      {deleting ? (
        <Dialog
          title={`Delete VM ${deleting.name}?`}
          submitLabel="Delete VM"
          danger
          busy={Boolean(pending[deleting.openstack_id])}
          error={deleteError}
          onCancel={() => setDeleting(null)}
          onSubmit={() => void confirmDelete()}
        >
          <p>The VM and its disk are deleted for good. Attached volumes are detached and kept.</p>
        </Dialog>
      ) : null}
    </>
  );
}
