// A VM's page, /vms/:openstack_id (spec §6, §9, §10): every field, how to connect (the ssh line with
// a copy button, the research environment's Open link), its first-boot setup (state, log, conda
// packages), the SSH keys it was given, its volumes, and the actions its state allows. Polls while
// the VM changes state, as the list does, and while its setup has not reported its end.
import { useQuery } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { Link, useParams } from 'react-router';
import { vmActionAllowed, type VmAction } from '../../../src/shared/contract';
import { type ApiError, type Vm, type VmSetup, errorOf } from '../api';
import {
  VM_CHANGE, projectsQuery, researchEnvironmentsQuery, sshKeysQuery, useBusyIds, useVmAction, useVmDelete, vmQuery, vmSetupLogQuery, vmVolumesQuery,
} from '../queries';
import { projectName } from '../session';
import { CopyButton, CopyableId, ErrorText, LoadError, Loading, formatDate, useTitle } from '../ui';
import { DeleteVmDialog, VM_ACTIONS } from '../VmActions';

export function VmPage() {
  const { openstackId = '' } = useParams();
  const vm = useQuery(vmQuery(openstackId));
  useTitle(vm.data?.name ?? 'VM');

  // 404: no such VM, or one out of the user's reach (the API answers both alike); 400: no VM id at all.
  if (vm.error && !vm.data && (vm.error.status === 404 || vm.error.status === 400)) return <NoSuchVm id={openstackId} />;
  return (
    <>
      <p className="breadcrumb">
        <Link to={vm.data ? `/vms?project=${vm.data.project_id}` : '/vms'}>VMs</Link>
      </p>
      {vm.isPending ? <Loading what="the VM" /> : null}
      {vm.error && !vm.data ? <LoadError error={vm.error} retry={() => void vm.refetch()} /> : null}
      {vm.data ? <VmDetail vm={vm.data} /> : null}
    </>
  );
}

function NoSuchVm({ id }: { id: string }) {
  return (
    <>
      <h1>No such VM</h1>
      <p className="empty">
        There is no VM <code className="id">{id}</code> that you can see: it may never have existed, or it belongs to a project or a person
        whose VMs you cannot see. Go to <Link to="/vms">your VMs</Link>.
      </p>
    </>
  );
}

function VmDetail({ vm }: { vm: Vm }) {
  const projects = useQuery(projectsQuery);
  const templates = useQuery(researchEnvironmentsQuery);
  const resenvTitle = vm.research_environment
    ? (templates.data?.find((t) => t.template === vm.research_environment)?.title ?? vm.research_environment)
    : null;
  const deleted = vm.status === 'DELETED';

  return (
    <>
      <div className="page-head vm-head">
        <h1>{vm.name}</h1>
        <VmStatus vm={vm} />
      </div>
      <VmActions vm={vm} />
      {deleted ? <p className="empty">This VM has been deleted. Its volumes were detached and kept.</p> : <HowToConnect vm={vm} resenvTitle={resenvTitle} />}

      <section aria-labelledby="vm-details-title">
        <h2 id="vm-details-title">Details</h2>
        <dl className="facts card vm-facts">
          <dt>Name</dt>
          <dd>{vm.name}</dd>
          <dt>ID</dt>
          <dd>
            <CopyableId id={vm.openstack_id} label="Copy VM id" testId="vm-id" />
          </dd>
          <dt>Status</dt>
          <dd>
            <span className={`status status-${vm.status.toLowerCase()}`} data-testid="vm-status">
              {vm.status}
            </span>
            {vm.task_state ? (
              <span className="task" data-testid="vm-task">
                {vm.task_state}…
              </span>
            ) : null}
          </dd>
          {vm.fault ? (
            <>
              <dt>Fault</dt>
              <dd className="fault-text">{vm.fault}</dd>
            </>
          ) : null}
          <dt>Project</dt>
          <dd>
            <Link to={`/projects/${vm.project_id}`}>{projectName(projects.data, vm.project_id)}</Link>
          </dd>
          <dt>Owner</dt>
          <dd>{vm.owner}</dd>
          <dt>Image</dt>
          <dd>{vm.image_name}</dd>
          <dt>Flavor</dt>
          <dd>{vm.flavor_name}</dd>
          <dt>IP address</dt>
          <dd>{vm.fixed_ip ?? '—'}</dd>
          <dt>Research environment</dt>
          <dd>{resenvTitle ?? 'None'}</dd>
          <dt>Created</dt>
          <dd>{formatDate(vm.created_at, { seconds: true })}</dd>
          <dt>Updated</dt>
          <dd>{formatDate(vm.updated_at, { seconds: true })}</dd>
        </dl>
      </section>

      <VmSetupSection vm={vm} />
      <VmSshKeys vm={vm} />
      <VmVolumes vm={vm} />
    </>
  );
}

function VmStatus({ vm }: { vm: Vm }) {
  return (
    <span className={`status status-${vm.status.toLowerCase()}`} aria-hidden="true">
      {vm.status}
      {vm.task_state ? ` · ${vm.task_state}…` : ''}
    </span>
  );
}

/** The buttons the VM's state allows, as in the list; a refusal shows beside them. */
function VmActions({ vm }: { vm: Vm }) {
  const vmAction = useVmAction();
  const vmDelete = useVmDelete();
  const busy = useBusyIds(VM_CHANGE).has(vm.openstack_id);
  const [error, setError] = useState<ApiError | null>(null);
  const [deleting, setDeleting] = useState(false);
  const [deleteError, setDeleteError] = useState<ApiError | null>(null);

  const act = async (action: Exclude<VmAction, 'delete'>) => {
    setError(null);
    try {
      await vmAction.mutateAsync({ id: vm.openstack_id, os_action: action });
    } catch (e) {
      setError(errorOf(e));
    }
  };
  const confirmDelete = async () => {
    try {
      await vmDelete.mutateAsync({ id: vm.openstack_id });
      setDeleting(false);
    } catch (e) {
      setDeleteError(errorOf(e));
    }
  };

  return (
    <div className="vm-actions" role="group" aria-label="Actions">
      {VM_ACTIONS.map(({ action, label }) => (
        <button
          key={action}
          type="button"
          aria-describedby={error ? 'vm-action-error' : undefined}
          disabled={busy || !vmActionAllowed(vm, action)}
          onClick={() => void act(action)}
        >
          {label}
        </button>
      ))}
      <button
        type="button"
        className="danger"
        disabled={busy || !vmActionAllowed(vm, 'delete')}
        onClick={() => {
          setDeleteError(null);
          setDeleting(true);
        }}
      >
        Delete
      </button>
      <ErrorText error={error} id="vm-action-error" />
      {deleting ? <DeleteVmDialog vm={vm} busy={busy} error={deleteError} onCancel={() => setDeleting(false)} onConfirm={() => void confirmDelete()} /> : null}
    </div>
  );
}

/** The ssh line and the research environment's link once the VM has been ACTIVE; until then, when they will show. */
function HowToConnect({ vm, resenvTitle }: { vm: Vm; resenvTitle: string | null }) {
  const ssh = vm.access?.ssh ?? null;
  const resenv = vm.access?.research_environment ?? null;
  return (
    <section className="card connect" aria-labelledby="connect-title">
      <h2 id="connect-title">How to connect</h2>
      {!vm.access ? (
        <p data-testid="connect-later">
          Once the VM is ACTIVE, the <code>ssh</code> line to log in with shows here
          {resenvTitle ? <>, with a link that opens {resenvTitle} in your browser</> : null}.
          {vm.status === 'ERROR' ? ' This VM failed to start, so it will not become reachable.' : null}
        </p>
      ) : (
        <>
          {ssh ? (
            <>
              <p className="hint" id="ssh-hint">
                In a terminal, log in as <strong>{ssh.user}</strong>. <code>-i</code> names the file of the private key that matches one of the SSH keys
                below.
              </p>
              <div className="copy-line">
                <code data-testid="ssh-command" aria-describedby="ssh-hint">{ssh.command}</code>
                <CopyButton text={ssh.command} label="Copy ssh command" />
              </div>
            </>
          ) : (
            <p>The VM has no address yet, so there is no ssh line to show.</p>
          )}
          {resenv ? (
            <div className="resenv-open">
              <p>{resenvTitle ?? resenv.template} runs in this VM; the portal opens it in your browser, logged in as you.</p>
              <a className="button primary" href={resenv.url} target="_blank" rel="noopener">
                Open {resenvTitle ?? resenv.template}
              </a>
            </div>
          ) : null}
          {vm.status === 'SHUTOFF' ? <p className="hint">The VM is stopped: start it to connect.</p> : null}
        </>
      )}
    </section>
  );
}

const SETUP_STATES: Record<VmSetup['state'], string> = { pending: 'Pending', running: 'Running', done: 'Done', failed: 'Failed', unknown: 'Unknown' };

/** What the setup's state means, in a sentence. */
function setupSentence(setup: VmSetup, status: string): string {
  switch (setup.state) {
    case 'pending':
      return status === 'ACTIVE'
        ? 'The VM has started; its first boot has not reported yet.'
        : 'The setup runs at the VM\'s first boot, once it is ACTIVE.';
    case 'running':
      return 'The first boot is setting the VM up: keys, volumes, conda packages, research environment and first-boot script, as this VM has them.';
    case 'done':
      return 'Everything that runs at the first boot has finished: the VM is ready.';
    case 'failed':
      return setup.exit_code === null
        ? 'The setup failed. The log shows what went wrong.'
        : `The setup failed with exit code ${setup.exit_code}. The log shows what went wrong.`;
    case 'unknown':
      return 'No report came in time: the VM did not say whether its setup finished. It may still be running, or could not reach the portal; log in to the VM to look.';
  }
}

/** The first-boot setup as the VM reports it (spec §10): its state, when it last reported, its log, and the conda packages it installs. */
function VmSetupSection({ vm }: { vm: Vm }) {
  const setup = vm.setup;
  return (
    <section aria-labelledby="vm-setup-title">
      <h2 id="vm-setup-title">Setup</h2>
      {setup === null ? (
        <p className="empty">Nothing runs at this VM&apos;s first boot: it was given no SSH keys, volumes, conda packages, research environment or script.</p>
      ) : (
        <div className="card setup">
          <p className="setup-state">
            <span className={`status status-setup-${setup.state}`} data-testid="setup-state">
              {SETUP_STATES[setup.state]}
              {setup.state === 'failed' && setup.exit_code !== null ? ` (exit code ${setup.exit_code})` : ''}
            </span>{' '}
            <span data-testid="setup-sentence">{setupSentence(setup, vm.status)}</span>
          </p>
          <p className="hint" data-testid="setup-reported">
            {setup.updated_at ? `Last report: ${formatDate(setup.updated_at, { seconds: true })}.` : 'No report has come in yet.'}
          </p>
          <SetupLog vm={vm} setup={setup} />
        </div>
      )}
      <h3 id="vm-conda-title">Conda packages</h3>
      {vm.conda_packages.length === 0 ? (
        <p className="hint">None were asked for when the VM was created.</p>
      ) : (
        <>
          <p className="hint">
            Installed from bioconda and conda-forge into the conda environment <code>denbi</code>, active in the login user&apos;s shells.
          </p>
          <ul className="chips" aria-labelledby="vm-conda-title">
            {vm.conda_packages.map((p) => (
              <li key={p.name} data-package={p.name}>
                <code>{p.version ? `${p.name}=${p.version}` : p.name}</code>
                {p.version ? null : <span className="hint"> (latest)</span>}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

/** The tail of the setup log, loaded when asked for; a new report brings the new log. */
function SetupLog({ vm, setup }: { vm: Vm; setup: VmSetup }) {
  const [shown, setShown] = useState(false);
  const log = useQuery({ ...vmSetupLogQuery(vm.openstack_id, setup.updated_at), enabled: shown });
  const pre = useRef<HTMLPreElement>(null);
  // The end of the log is where a failure shows: scrolled there whenever it changes.
  useEffect(() => {
    if (pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [log.data]);
  return (
    <div className="setup-log-area">
      <button type="button" aria-expanded={shown} aria-controls="vm-setup-log" onClick={() => setShown((s) => !s)}>
        {shown ? 'Hide log' : 'Show log'}
      </button>
      {shown ? (
        <div id="vm-setup-log">
          {log.isPending ? <Loading what="the setup log" /> : null}
          {log.error ? <LoadError error={log.error} retry={() => void log.refetch()} /> : null}
          {log.data === '' ? <p className="hint">No log has come in yet: the VM sends it with its reports.</p> : null}
          {log.data ? (
            <pre ref={pre} className="setup-log" tabIndex={0} aria-label="Setup log" data-testid="setup-log">
              {log.data}
            </pre>
          ) : null}
        </div>
      ) : null}
    </div>
  );
}

/** The fingerprints of the keys put into the VM, named where they are the user's own. */
function VmSshKeys({ vm }: { vm: Vm }) {
  const own = useQuery(sshKeysQuery);
  const nameOf = (fingerprint: string) => own.data?.find((k) => k.fingerprint === fingerprint)?.name;
  return (
    <section aria-labelledby="vm-ssh-keys-title">
      <h2 id="vm-ssh-keys-title">SSH keys</h2>
      {vm.ssh_keys.length === 0 ? (
        <p className="empty">
          This VM was given no SSH keys, so nobody can log in to it with ssh. VMs you create get the keys of your profile: add one in the{' '}
          <Link to="/profile">SSH keys section of your profile</Link>, then create a VM.
        </p>
      ) : (
        <>
          <p className="hint">The VM accepts the private keys that match these public keys:</p>
          <ul className="fingerprints">
            {vm.ssh_keys.map((fingerprint) => (
              <li key={fingerprint} data-fingerprint={fingerprint}>
                <code className="fingerprint">{fingerprint}</code>
                {nameOf(fingerprint) ? <span className="hint"> ({nameOf(fingerprint)})</span> : null}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

function VmVolumes({ vm }: { vm: Vm }) {
  const volumes = useQuery(vmVolumesQuery(vm));
  const rows = volumes.data ?? [];
  const unknown = vm.volumes.filter((id) => !rows.some((v) => v.openstack_id === id));
  return (
    <section aria-labelledby="vm-volumes-title">
      <h2 id="vm-volumes-title">Volumes</h2>
      {volumes.isPending && vm.volumes.length > 0 ? <Loading what="volumes" /> : null}
      {volumes.error ? <LoadError error={volumes.error} retry={() => void volumes.refetch()} /> : null}
      {vm.volumes.length === 0 && rows.length === 0 ? (
        <p className="empty">
          No volumes are attached. Attach one on the <Link to={`/volumes?project=${vm.project_id}`}>Volumes</Link> page.
        </p>
      ) : null}
      {rows.length > 0 || (volumes.data && unknown.length > 0) ? (
        <div className="table-scroll">
          <table className="list">
            <caption className="visually-hidden">Volumes attached to {vm.name}</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Size</th>
                <th scope="col">Status</th>
                <th scope="col">Device</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((v) => (
                <tr key={v.openstack_id} data-volume={v.name}>
                  <th scope="row">{v.name}</th>
                  <td data-label="Size">{v.storage} GB</td>
                  <td data-label="Status">
                    <span className={`status status-${v.status.toLowerCase()}`}>{v.status}</span>
                  </td>
                  <td data-label="Device">{v.device ? <code>{v.device}</code> : '—'}</td>
                </tr>
              ))}
              {/* Attached, but not a volume the user may see (another member's, in a project they do not admin). */}
              {volumes.data
                ? unknown.map((id) => (
                    <tr key={id}>
                      <th scope="row">
                        <code className="id">{id}</code>
                      </th>
                      <td colSpan={3} className="hint">
                        Another member's volume
                      </td>
                    </tr>
                  ))
                : null}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
