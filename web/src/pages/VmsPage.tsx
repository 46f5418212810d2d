// VMs of the user's projects with their live status; actions enabled only where the state allows; a VM's name opens its page.
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { type VmAction, vmActionAllowed } from '../../../src/shared/contract';
import { type ApiError, type Vm, errorOf } from '../api';
import { ProjectSelect } from '../ProjectSelect';
import { VM_CHANGE, projectFilter, projectsQuery, useBusyIds, useVmAction, useVmDelete, vmPageQuery } from '../queries';
import { projectName } from '../session';
import { Empty, ErrorText, ListPager, LoadError, Loading, usePageParam, useSetParams, useTitle } from '../ui';
import { DeleteVmDialog, VM_ACTIONS } from '../VmActions';

export function VmsPage() {
  useTitle('VMs');
  const projects = useQuery(projectsQuery);
  const [params] = useSearchParams();
  const setParams = useSetParams();
  const projectId = params.get('project') ?? '';
  const page = usePageParam();
  // Polls while a VM on the page changes state (vmPageQuery).
  const vms = useQuery(vmPageQuery(projectFilter(projectId), page));
  const vmAction = useVmAction();
  const vmDelete = useVmDelete();
  const pending = useBusyIds(VM_CHANGE);
  const [rowErrors, setRowErrors] = useState<Record<string, ApiError>>({});
  const [deleting, setDeleting] = useState<Vm | null>(null);
  const [deleteError, setDeleteError] = useState<ApiError | null>(null);

  const rows = vms.data?.results ?? [];
  const newVmHref = `/vms/new${projectId ? `?${new URLSearchParams({ project: projectId })}` : ''}`;

  // Rows act independently (mutateAsync: each call has its own outcome), their errors beside their buttons.
  const act = async (vm: Vm, action: Exclude<VmAction, 'delete'>) => {
    setRowErrors(({ [vm.openstack_id]: _, ...rest }) => rest);
    try {
      await vmAction.mutateAsync({ id: vm.openstack_id, os_action: action });
    } catch (e) {
      setRowErrors((r) => ({ ...r, [vm.openstack_id]: errorOf(e) }));
    }
  };

  const confirmDelete = async () => {
    if (!deleting) return;
    try {
      await vmDelete.mutateAsync({ id: deleting.openstack_id });
      setDeleting(null);
    } catch (e) {
      setDeleteError(errorOf(e));
    }
  };

  return (
    <>
      <div className="page-head">
        <h1>VMs</h1>
        <Link className="button primary" to={newVmHref}>
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
      {vms.isPending ? <Loading what="VMs" /> : null}
      {vms.error && !vms.data ? <LoadError error={vms.error} retry={() => void vms.refetch()} /> : null}
      {vms.error && vms.data ? <ErrorText error={vms.error} /> : null}
      {vms.data && rows.length === 0 ? (
        <Empty>
          <p>{projectId ? 'No VMs in this project yet.' : 'You have no VMs yet.'}</p>
          <Link className="button primary" to={newVmHref}>
            Create a VM
          </Link>
        </Empty>
      ) : null}
      {rows.length > 0 ? (
        // aria-busy while another page loads and this one is still shown. On a phone the table scrolls, not the page.
        <div className="table-scroll">
          <table className="list" aria-busy={vms.isPlaceholderData || undefined}>
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
                const busy = pending.has(vm.openstack_id);
                const error = rowErrors[vm.openstack_id];
                const errorId = `vm-error-${vm.openstack_id}`;
                return (
                  <tr key={vm.openstack_id} data-vm={vm.name}>
                    <th scope="row">
                      <Link to={`/vms/${encodeURIComponent(vm.openstack_id)}`}>{vm.name}</Link>
                    </th>
                    <td data-label="Status">
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
                    <td data-label="Project">{projectName(projects.data, vm.project_id)}</td>
                    <td data-label="Image">{vm.image_name}</td>
                    <td data-label="Flavor">{vm.flavor_name}</td>
                    <td data-label="IP address">{vm.fixed_ip ?? '—'}</td>
                    <td data-label="Owner">{vm.owner}</td>
                    <td className="row-actions">
                      {VM_ACTIONS.map(({ action, label }) => (
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
        </div>
      ) : null}
      <ListPager page={page} count={vms.data?.count} />
      {deleting ? (
        <DeleteVmDialog
          vm={deleting}
          busy={pending.has(deleting.openstack_id)}
          error={deleteError}
          onCancel={() => setDeleting(null)}
          onConfirm={() => void confirmDelete()}
        />
      ) : null}
    </>
  );
}
