// Volumes: create, attach to a VM of the same project, detach, extend and delete.
import { useQuery } from '@tanstack/react-query';
import { type FormEvent, useEffect, useState } from 'react';
import { useSearchParams } from 'react-router';
import { type VolumeAction, vmIsSettled, volumeActionAllowed, volumeInTransition } from '../../../src/shared/contract';
import { type ApiError, type Vm, type Volume, errorOf } from '../api';
import { ProjectSelect } from '../ProjectSelect';
import {
  VOLUME_CHANGE, type VolumeActionBody, projectFilter, projectQuery, projectsQuery, useBusyIds, useCreateVolume, useVolumeAction, useVolumeDelete, vmChoicesQuery,
  volumePageQuery,
} from '../queries';
import { projectName } from '../session';
import { CopyableId, Dialog, Empty, ErrorText, ListPager, LoadError, Loading, usePageParam, useSetParams, useTitle } from '../ui';

type Pending = { kind: 'attach' | 'extend' | 'delete'; volume: Volume };

export function VolumesPage() {
  useTitle('Volumes');
  const projects = useQuery(projectsQuery);
  const [params] = useSearchParams();
  const setParams = useSetParams();
  const projectId = params.get('project') ?? '';
  const page = usePageParam();
  // Polls while a volume on the page changes state (volumePageQuery).
  const volumes = useQuery(volumePageQuery(projectFilter(projectId), page));
  const rows = volumes.data?.results ?? [];
  // The VMs volumes can be attached to, and the names of those they are attached to: read again
  // with the volumes while one changes state, as an attachment changes both.
  const vms = useQuery(vmChoicesQuery(projectFilter(projectId), rows.some(volumeInTransition)));
  const volumeAction = useVolumeAction();
  const volumeDelete = useVolumeDelete();
  const busy = useBusyIds(VOLUME_CHANGE);

  const [rowErrors, setRowErrors] = useState<Record<string, ApiError>>({});
  const [dialog, setDialog] = useState<Pending | null>(null);
  const [dialogError, setDialogError] = useState<ApiError | null>(null);
  const [attachTo, setAttachTo] = useState('');
  const [newSize, setNewSize] = useState('');

  /**
   * Runs a write on one row (mutateAsync: each call has its own outcome, also while other rows'
   * run); errors land in the open dialog, or else beside the row's buttons.
   */
  const run = async (volume: Volume, write: () => Promise<unknown>, inDialog: boolean) => {
    const id = volume.openstack_id;
    setRowErrors(({ [id]: _, ...rest }) => rest);
    try {
      await write();
      if (inDialog) setDialog(null);
    } catch (e) {
      if (inDialog) setDialogError(errorOf(e));
      else setRowErrors((r) => ({ ...r, [id]: errorOf(e) }));
    }
  };

  const action = (volume: Volume, body: VolumeActionBody) => volumeAction.mutateAsync({ id: volume.openstack_id, ...body });

  const open = (kind: Pending['kind'], volume: Volume) => {
    setDialogError(null);
    setAttachTo('');
    setNewSize(String(volume.storage + 1));
    setDialog({ kind, volume });
  };

  const vmList = vms.data?.results ?? [];
  const vmName = (id: string | null) => (id ? (vmList.find((v) => v.openstack_id === id)?.name ?? id) : '—');

  return (
    <>
      <div className="page-head">
        <h1>Volumes</h1>
      </div>
      <div className="filters">
        <ProjectSelect id="volumes-project" label="Project" projects={projects.data ?? []} value={projectId} anyLabel="All projects" onChange={(v) => setParams({ project: v, page: null })} />
      </div>
      <CreateVolume defaultProject={projectId} />
      {volumes.isPending ? <Loading what="volumes" /> : null}
      {volumes.error && !volumes.data ? <LoadError error={volumes.error} retry={() => void volumes.refetch()} /> : null}
      {volumes.error && volumes.data ? <ErrorText error={volumes.error} /> : null}
      {volumes.data && rows.length === 0 ? (
        <Empty>
          <p>{projectId ? 'No volumes in this project yet.' : 'You have no volumes yet.'} Create one with the form above.</p>
        </Empty>
      ) : null}
      {rows.length > 0 ? (
        // aria-busy while another page loads and this one is still shown.
        <table className="list" aria-busy={volumes.isPlaceholderData || undefined}>
          <caption className="visually-hidden">Volumes</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">ID</th>
              <th scope="col">Status</th>
              <th scope="col">Size</th>
              <th scope="col">Project</th>
              <th scope="col">Attached to</th>
              <th scope="col">Owner</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((v) => {
              const id = v.openstack_id;
              const disabled = (a: VolumeAction) => busy.has(id) || !volumeActionAllowed(v, a);
              const errorId = `volume-error-${id}`;
              return (
                <tr key={id} data-volume={v.name}>
                  <th scope="row">{v.name}</th>
                  <td data-label="ID">
                    <CopyableId id={id} label={`Copy volume id of ${v.name}`} testId="volume-id" short />
                  </td>
                  <td data-label="Status">
                    <span className={`status status-${v.status}`} data-testid="volume-status">
                      {v.status}
                    </span>
                  </td>
                  <td data-label="Size">{v.storage} GB</td>
                  <td data-label="Project">{projectName(projects.data, v.project_id)}</td>
                  <td data-label="Attached to" data-testid="volume-attached-to">
                    {vmName(v.attached_to)}
                    {v.device ? <span className="hint"> ({v.device})</span> : null}
                  </td>
                  <td data-label="Owner">{v.owner}</td>
                  <td className="row-actions">
                    <button type="button" aria-label={`Attach ${v.name}`} disabled={disabled('attach')} onClick={() => open('attach', v)}>
                      Attach
                    </button>
                    <button
                      type="button"
                      aria-label={`Detach ${v.name}`}
                      aria-describedby={rowErrors[id] ? errorId : undefined}
                      disabled={disabled('detach')}
                      onClick={() => void run(v, () => action(v, { os_action: 'detach' }), false)}
                    >
                      Detach
                    </button>
                    <button type="button" aria-label={`Extend ${v.name}`} disabled={disabled('extend')} onClick={() => open('extend', v)}>
                      Extend
                    </button>
                    <button type="button" className="danger" aria-label={`Delete ${v.name}`} disabled={disabled('delete')} onClick={() => open('delete', v)}>
                      Delete
                    </button>
                    <ErrorText error={rowErrors[id]} id={errorId} />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : null}
      <ListPager page={page} count={volumes.data?.count} />

      {dialog?.kind === 'attach' ? (
        <Dialog
          title={`Attach ${dialog.volume.name}`}
          submitLabel="Attach"
          busy={busy.has(dialog.volume.openstack_id)}
          error={dialogError}
          submitDisabled={!attachTo}
          onCancel={() => setDialog(null)}
          onSubmit={() => void run(dialog.volume, () => action(dialog.volume, { os_action: 'attach', vm_openstack_id: attachTo }), true)}
        >
          <AttachPicker vms={vmList.filter((vm) => vm.project_id === dialog.volume.project_id)} value={attachTo} onChange={setAttachTo} loading={vms.isPending} />
        </Dialog>
      ) : null}
      {dialog?.kind === 'extend' ? (
        <Dialog
          title={`Extend ${dialog.volume.name}`}
          submitLabel="Extend"
          busy={busy.has(dialog.volume.openstack_id)}
          error={dialogError}
          submitDisabled={!(Number(newSize) > dialog.volume.storage)}
          onCancel={() => setDialog(null)}
          onSubmit={() => void run(dialog.volume, () => action(dialog.volume, { os_action: 'extend', size: Number(newSize) }), true)}
        >
          <label htmlFor="extend-size">New size (GB)</label>
          <input id="extend-size" type="number" min={dialog.volume.storage + 1} step={1} value={newSize} onChange={(e) => setNewSize(e.target.value)} aria-describedby="extend-hint" />
          <p className="hint" id="extend-hint">
            Now {dialog.volume.storage} GB; the new size must be larger. Volumes cannot shrink.
          </p>
        </Dialog>
      ) : null}
      {dialog?.kind === 'delete' ? (
        <Dialog
          title={`Delete volume ${dialog.volume.name}?`}
          submitLabel="Delete volume"
          danger
          busy={busy.has(dialog.volume.openstack_id)}
          error={dialogError}
          onCancel={() => setDialog(null)}
          onSubmit={() => void run(dialog.volume, () => volumeDelete.mutateAsync({ id: dialog.volume.openstack_id }), true)}
        >
          <p>The volume and all data on it are deleted for good.</p>
        </Dialog>
      ) : null}
    </>
  );
}

function AttachPicker({ vms, value, onChange, loading }: { vms: Vm[]; value: string; onChange: (v: string) => void; loading: boolean }) {
  const usable = vms.filter(vmIsSettled);
  useEffect(() => {
    if (!value && usable.length === 1) onChange(usable[0].openstack_id);
  }, [value, usable, onChange]);
  if (loading) return <Loading what="VMs" />;
  if (usable.length === 0) return <p className="empty">No VM of this project can take a volume now (it must be ACTIVE or SHUTOFF).</p>;
  return (
    <>
      <label htmlFor="attach-vm">VM</label>
      <select id="attach-vm" value={value} onChange={(e) => onChange(e.target.value)} required>
        <option value="">Choose a VM…</option>
        {usable.map((vm) => (
          <option key={vm.openstack_id} value={vm.openstack_id}>
            {vm.name} ({vm.status})
          </option>
        ))}
      </select>
    </>
  );
}

function CreateVolume({ defaultProject }: { defaultProject: string }) {
  const projects = useQuery(projectsQuery);
  const [projectId, setProjectId] = useState(defaultProject);
  const [name, setName] = useState('');
  const [size, setSize] = useState('10');
  const create = useCreateVolume();
  const { error } = create;

  useEffect(() => {
    if (defaultProject) setProjectId(defaultProject);
    else if (!projectId && projects.data?.length) setProjectId(String(projects.data[0].id));
  }, [defaultProject, projects.data]); // not on the user's own pick
  // The quota left; the volume list and this are read again once a volume is made (useCreateVolume).
  const project = useQuery({ ...projectQuery(Number(projectId)), enabled: projectId !== '' });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate({ project_id: Number(projectId), name, storage: Number(size) }, { onSuccess: () => setName('') });
  };

  const fieldErrors = error?.errors ?? {};
  return (
    <form className="card inline-form" onSubmit={submit} aria-labelledby="new-volume-title">
      <h2 id="new-volume-title">New volume</h2>
      <div className="row">
        <div className="field">
          <ProjectSelect id="new-volume-project" label="Project for the volume" projects={projects.data ?? []} value={projectId} onChange={setProjectId} required />
        </div>
        <div className="field">
          <label htmlFor="new-volume-name">Volume name</label>
          <input id="new-volume-name" value={name} onChange={(e) => setName(e.target.value)} required maxLength={255} autoComplete="off" />
          {fieldErrors.name ? <ErrorText error={fieldErrors.name.join(' ')} /> : null}
        </div>
        <div className="field">
          <label htmlFor="new-volume-size">Size (GB)</label>
          <input id="new-volume-size" type="number" min={1} step={1} value={size} onChange={(e) => setSize(e.target.value)} required />
          {fieldErrors.storage ? <ErrorText error={fieldErrors.storage.join(' ')} /> : null}
        </div>
        <button type="submit" className="primary" disabled={create.isPending || !projectId}>
          {create.isPending ? 'Creating…' : 'Create volume'}
        </button>
      </div>
      {project.data ? (
        <p className="hint" role="status">
          Quota left in {project.data.name}: {Math.max(0, project.data.quota.volumes - project.data.usage.volumes)} of {project.data.quota.volumes} volumes,{' '}
          {Math.max(0, project.data.quota.volume_gb - project.data.usage.volume_gb)} of {project.data.quota.volume_gb} GB.
        </p>
      ) : null}
      <ErrorText error={error ?? project.error} />
    </form>
  );
}
