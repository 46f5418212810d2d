// The New VM form: project, image and flavor from the API, the name checked as the API checks it,
// and what is left of the project's quota shown before the user submits. Optional (spec §8, §9): a
// research environment (which limits the images to those that come with it), a first-boot script,
// the project's available volumes to attach and mount, conda packages (spec §10) and the project
// members' SSH keys. Only what the user set is sent: the API refuses fields it does not know, and all
// of these are optional.
import { useQuery } from '@tanstack/react-query';
import { type FormEvent, useEffect, useState } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { VM_NAME_PATTERN } from '../../../src/shared/contract';
import type { Amounts, Flavor, Volume } from '../api';
import { type CondaChoice, CondaPicker, condaSpec } from '../CondaPicker';
import { ProjectSelect } from '../ProjectSelect';
import {
  type VmCreateBody, flavorsQuery, imagesQuery, projectQuery, projectVolumesQuery, projectsQuery, researchEnvironmentsQuery, sshKeysQuery, useCreateVm,
} from '../queries';
import { ErrorText, LoadError, Loading, useTitle } from '../ui';

const NAME_RULE = '1–63 characters: letters, digits, dots, dashes and underscores, starting with a letter or digit.';
/** The API's own check of VM names (VmCreateBody.vm_name). */
const VM_NAME = new RegExp(VM_NAME_PATTERN);

export function nameProblem(name: string): string | null {
  if (name === '') return 'Give the VM a name.';
  return VM_NAME.test(name) ? null : `This name is not allowed. Use ${NAME_RULE}`;
}

/** The most bytes of first-boot script the API takes (VmCreateBody.additional_script: 64 KiB, counted in UTF-8 bytes). */
export const MAX_SCRIPT_BYTES = 64 * 1024;
/** The most volumes a new VM takes (VmCreateBody.volumes). */
const MAX_LAUNCH_VOLUMES = 10;
/** The API's checks of a research environment's path and of a mount path (VmCreateBody). */
const USER_PATH = /^[A-Za-z0-9._~/-]*$/;
const MOUNT_PATH = /^\/[A-Za-z0-9._/-]+$/;
const MAX_PATH = 200;

const scriptBytes = (script: string) => new TextEncoder().encode(script).length;

export function scriptProblem(script: string): string | null {
  const bytes = scriptBytes(script);
  return bytes > MAX_SCRIPT_BYTES
    ? `The script is ${bytes.toLocaleString('en')} bytes: at most ${MAX_SCRIPT_BYTES.toLocaleString('en')} bytes (64 KiB) are allowed.`
    : null;
}

const hasDotSegment = (path: string) => path.split('/').some((s) => s === '.' || s === '..');

export function userPathProblem(path: string): string | null {
  if (path.length > MAX_PATH) return `At most ${MAX_PATH} characters.`;
  if (!USER_PATH.test(path)) return 'Use letters, digits, . _ ~ - and / only.';
  return hasDotSegment(path) ? 'The path may not contain . or .. segments.' : null;
}

export function mountPathProblem(path: string): string | null {
  if (path === '') return 'Give the path to mount the volume at, such as /vol/data.';
  if (path.length > MAX_PATH) return `At most ${MAX_PATH} characters.`;
  if (!MOUNT_PATH.test(path)) return 'Use an absolute path (starting with /) of letters, digits, . _ - and /.';
  if (hasDotSegment(path)) return 'The path may not contain . or .. segments.';
  return path.split('/').every((s) => s === '') ? 'Not a directory to mount a volume at.' : null;
}

/** Where a volume is mounted unless the user says otherwise: /vol/ and its name, with what a path may not hold replaced. */
export function defaultMountPath(volumeName: string): string {
  const safe = volumeName.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100);
  return `/vol/${/^\.*$/.test(safe) ? 'volume' : safe}`;
}

/** A volume the user may attach to the new VM: whether it is ticked, and its mount path once edited. */
type LaunchChoice = { attach: boolean; path?: string };

export function NewVmPage() {
  useTitle('New VM');
  const projects = useQuery(projectsQuery);
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const [projectId, setProjectId] = useState(params.get('project') ?? '');
  const [image, setImage] = useState('');
  const [flavor, setFlavor] = useState('');
  const [name, setName] = useState('');
  const [nameTouched, setNameTouched] = useState(false);
  const [resenv, setResenv] = useState('');
  const [userPath, setUserPath] = useState('');
  const [createOnly, setCreateOnly] = useState(false);
  const [script, setScript] = useState('');
  const [launch, setLaunch] = useState<Record<string, LaunchChoice>>({});
  const [memberAccess, setMemberAccess] = useState(false);
  const [conda, setConda] = useState<CondaChoice[]>([]);
  const create = useCreateVm();
  const { error } = create;

  // Without a project in the address, the first one the user has.
  useEffect(() => {
    if (!projectId && projects.data?.length) setProjectId(String(projects.data[0].id));
  }, [projectId, projects.data]);

  // The project's quota and usage, images and flavors: all three are needed before the form can be sent.
  const chosen = { enabled: projectId !== '' };
  const project = useQuery({ ...projectQuery(Number(projectId)), ...chosen });
  const images = useQuery({ ...imagesQuery(Number(projectId)), ...chosen });
  const flavors = useQuery({ ...flavorsQuery(Number(projectId)), ...chosen });
  const details = project.data && images.data && flavors.data ? { project: project.data, images: images.data, flavors: flavors.data } : null;
  const detailsError = project.error ?? images.error ?? flavors.error;
  const detailsLoading = chosen.enabled && (project.isPending || images.isPending || flavors.isPending) && !detailsError;
  const retryDetails = () => {
    for (const q of [project, images, flavors]) if (q.error) void q.refetch();
  };

  const templates = useQuery(researchEnvironmentsQuery);
  const template = templates.data?.find((t) => t.template === resenv);
  const volumes = useQuery({ ...projectVolumesQuery(Number(projectId), 'available'), ...chosen });
  const sshKeys = useQuery(sshKeysQuery);

  // With a research environment, only the images that come with it.
  const offeredImages = images.data?.filter((i) => !resenv || i.resenv_template_name === resenv) ?? [];

  // Keep the picks valid for the project's images (and the environment's) and flavors.
  useEffect(() => {
    if (images.data && !offeredImages.some((i) => i.name === image)) setImage(offeredImages[0]?.name ?? '');
  }, [images.data, resenv]); // only when the project's list arrives or the environment changes, not on each pick
  useEffect(() => {
    if (flavors.data && !flavors.data.some((f) => f.name === flavor)) setFlavor(flavors.data[0]?.name ?? '');
  }, [flavors.data]);

  const problem = nameProblem(name);
  const showNameProblem = nameTouched && problem;
  const userPathError = resenv ? userPathProblem(userPath.trim()) : null;
  const scriptError = scriptProblem(script);
  const volumeList = volumes.data?.results ?? [];
  const pathOf = (v: Volume) => launch[v.openstack_id]?.path ?? defaultMountPath(v.name);
  const attached = volumeList.filter((v) => launch[v.openstack_id]?.attach);
  const pathErrors: Record<string, string> = {};
  for (const v of attached) {
    const p = mountPathProblem(pathOf(v));
    const twin = attached.find((o) => o !== v && pathOf(o) === pathOf(v));
    if (p) pathErrors[v.openstack_id] = p;
    else if (twin) pathErrors[v.openstack_id] = `${twin.name} is mounted at ${pathOf(v)} too: give each volume its own path.`;
  }
  const tooManyVolumes = attached.length > MAX_LAUNCH_VOLUMES ? `At most ${MAX_LAUNCH_VOLUMES} volumes can be attached to a new VM.` : null;
  const formProblem = problem ?? userPathError ?? scriptError ?? tooManyVolumes ?? Object.values(pathErrors)[0] ?? null;
  const fieldErrors = error?.errors ?? {};
  const chosenFlavor = details?.flavors.find((f) => f.name === flavor);
  const left = details ? remaining(details.project.quota, details.project.usage) : null;
  const tooBig = left && chosenFlavor ? quotaShortfall(left, chosenFlavor) : null;

  // Still busy once the VM is made, until the VM list shows it.
  const busy = create.isPending || create.isSuccess;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setNameTouched(true);
    if (formProblem || !projectId) return;
    // Only what the user set: every field below is optional, and the API refuses fields it does not know.
    const body: VmCreateBody = { project_id: Number(projectId), image_name: image, flavor_name: flavor, vm_name: name };
    if (resenv) {
      body.research_environment_backend = { template: resenv };
      if (userPath.trim()) body.research_environment_backend.user_path = userPath.trim();
      if (createOnly) body.research_environment_backend.create_only = true;
    }
    if (script.trim()) body.additional_script = script;
    if (attached.length) body.volumes = attached.map((v) => ({ openstack_id: v.openstack_id, path: pathOf(v) }));
    if (memberAccess) body.member_access = true;
    if (conda.length) body.conda_packages = conda.map(condaSpec);
    create.mutate(body, { onSuccess: (vm) => void navigate(`/vms?project=${vm.project_id}`) });
  };

  const changeProject = (v: string) => {
    setProjectId(v);
    // Another project's volumes: none of this one's are ticked there.
    setLaunch({});
    create.reset();
  };

  if (projects.isPending) return <Loading what="your projects" />;
  if (projects.error && !projects.data) return <LoadError error={projects.error} retry={() => void projects.refetch()} />;
  if (projects.data && projects.data.length === 0) {
    return (
      <>
        <h1>New VM</h1>
        <p className="empty">You are not a member of any project yet, so you cannot create a VM. Ask a project admin to add you.</p>
      </>
    );
  }

  return (
    <>
      <h1>New VM</h1>
      <form className="form card" onSubmit={submit} noValidate>
        <div className="field">
          <ProjectSelect id="new-vm-project" label="Project" projects={projects.data ?? []} value={projectId} onChange={changeProject} required />
          <FieldError errors={fieldErrors.project_id} />
        </div>
        {detailsLoading ? <Loading what="images, flavors and quota" /> : null}
        {detailsError ? <LoadError error={detailsError} retry={retryDetails} /> : null}
        <div className="field">
          <label htmlFor="new-vm-resenv">Research environment</label>
          <select
            id="new-vm-resenv"
            value={resenv}
            onChange={(e) => {
              setResenv(e.target.value);
              setCreateOnly(false);
            }}
            aria-describedby="new-vm-resenv-hint"
          >
            <option value="">None</option>
            {templates.data?.map((t) => (
              <option key={t.template} value={t.template}>
                {t.title}
              </option>
            ))}
          </select>
          <p className="hint" id="new-vm-resenv-hint">
            {template
              ? `${template.description} You open it in the browser from the VM's page, through the portal.`
              : 'A web application in the VM (an IDE, a desktop) that you open in the browser from the VM\'s page.'}
          </p>
          {templates.error ? <LoadError error={templates.error} retry={() => void templates.refetch()} /> : null}
          <FieldError errors={fieldErrors.research_environment_backend} />
          {resenv && details && offeredImages.length === 0 ? (
            <p className="warning" role="status">
              This project has no image that comes with {template?.title ?? resenv}. Choose another research environment, or None.
            </p>
          ) : null}
        </div>
        {resenv ? (
          <fieldset className="resenv-options">
            <legend>{template?.title ?? resenv} options</legend>
            <div className="field">
              <label htmlFor="new-vm-resenv-path">Path</label>
              <input
                id="new-vm-resenv-path"
                value={userPath}
                maxLength={MAX_PATH}
                placeholder="/"
                autoComplete="off"
                spellCheck={false}
                aria-invalid={userPathError ? true : undefined}
                aria-describedby="new-vm-resenv-path-hint"
                onChange={(e) => setUserPath(e.target.value)}
              />
              <p className="hint" id="new-vm-resenv-path-hint">
                {userPathError ? (
                  <span className="error" role="alert">
                    {userPathError}
                  </span>
                ) : (
                  'Optional: the path the environment serves under on the VM. Empty for /.'
                )}
              </p>
            </div>
            <label className="check">
              <input type="checkbox" checked={createOnly} onChange={(e) => setCreateOnly(e.target.checked)} aria-describedby="new-vm-create-only-hint" />
              The image has it installed already
            </label>
            <p className="hint" id="new-vm-create-only-hint">
              Then nothing is installed at first boot: only the way in through the portal is set up.
            </p>
          </fieldset>
        ) : null}
        <div className="field">
          <label htmlFor="new-vm-image">Image</label>
          <select id="new-vm-image" value={image} onChange={(e) => setImage(e.target.value)} required disabled={!details || offeredImages.length === 0}>
            {offeredImages.map((i) => (
              <option key={i.name} value={i.name}>
                {i.name}
                {i.tags.includes('snapshot') ? ' (snapshot)' : ''}
              </option>
            ))}
          </select>
          <FieldError errors={fieldErrors.image_name} />
        </div>
        <div className="field">
          <label htmlFor="new-vm-flavor">Flavor</label>
          <select id="new-vm-flavor" value={flavor} onChange={(e) => setFlavor(e.target.value)} required disabled={!details}>
            {details?.flavors.map((f) => (
              <option key={f.name} value={f.name}>
                {f.name} ({f.vcpus} vCPU, {f.ram_gb} GB RAM, {f.disk_gb} GB disk)
              </option>
            ))}
          </select>
          <FieldError errors={fieldErrors.flavor_name} />
        </div>
        <div className="field">
          <label htmlFor="new-vm-name">Name</label>
          <input
            id="new-vm-name"
            value={name}
            maxLength={63}
            autoComplete="off"
            spellCheck={false}
            aria-invalid={showNameProblem ? true : undefined}
            aria-describedby="new-vm-name-hint"
            onChange={(e) => setName(e.target.value)}
            onBlur={() => setNameTouched(name !== '' || nameTouched)}
          />
          <p className="hint" id="new-vm-name-hint">
            {showNameProblem ? <span className="error" role="alert">{problem}</span> : NAME_RULE}
          </p>
          <FieldError errors={fieldErrors.vm_name} />
        </div>
        <fieldset className="launch-volumes">
          <legend>Volumes to attach</legend>
          <p className="hint">Optional. Each volume is attached once the VM runs and mounted at its path at first boot; a blank volume gets a file system.</p>
          {volumes.isPending && chosen.enabled ? <Loading what="volumes" /> : null}
          {volumes.error ? <LoadError error={volumes.error} retry={() => void volumes.refetch()} /> : null}
          {volumes.data && volumeList.length === 0 ? <p className="hint">This project has no available volumes.</p> : null}
          {volumeList.length > 0 ? (
            <ul className="volume-choices">
              {volumeList.map((v) => {
                const choice = launch[v.openstack_id];
                const pathError = pathErrors[v.openstack_id];
                const ids = `new-vm-volume-${v.openstack_id}`;
                const set = (patch: Partial<LaunchChoice>) => setLaunch((l) => ({ ...l, [v.openstack_id]: { ...(l[v.openstack_id] ?? { attach: false }), ...patch } }));
                return (
                  <li key={v.openstack_id} data-volume={v.name}>
                    <label className="check">
                      <input type="checkbox" checked={choice?.attach ?? false} onChange={(e) => set({ attach: e.target.checked })} />
                      Attach {v.name} ({v.storage} GB)
                    </label>
                    {choice?.attach ? (
                      <div className="field">
                        <label htmlFor={`${ids}-path`}>Mount path for {v.name}</label>
                        <input
                          id={`${ids}-path`}
                          value={pathOf(v)}
                          maxLength={MAX_PATH}
                          autoComplete="off"
                          spellCheck={false}
                          aria-invalid={pathError ? true : undefined}
                          aria-describedby={pathError ? `${ids}-error` : undefined}
                          onChange={(e) => set({ path: e.target.value })}
                        />
                        {pathError ? <ErrorText error={pathError} id={`${ids}-error`} /> : null}
                      </div>
                    ) : null}
                  </li>
                );
              })}
            </ul>
          ) : null}
          {tooManyVolumes ? <ErrorText error={tooManyVolumes} /> : null}
          <FieldError errors={fieldErrors.volumes} />
        </fieldset>
        <CondaPicker value={conda} onChange={setConda} errors={fieldErrors.conda_packages} />
        <div className="field">
          <label htmlFor="new-vm-script">First-boot script</label>
          <textarea
            id="new-vm-script"
            className="script"
            value={script}
            rows={6}
            spellCheck={false}
            autoComplete="off"
            placeholder={'#!/bin/bash\nsudo apt-get install -y htop'}
            aria-invalid={scriptError ? true : undefined}
            aria-describedby="new-vm-script-hint"
            onChange={(e) => setScript(e.target.value)}
          />
          <p className="hint" id="new-vm-script-hint">
            {scriptError ? (
              <span className="error" role="alert">
                {scriptError}
              </span>
            ) : (
              <>
                Optional. Runs once, at the first boot, as the login user in its home directory, after the keys, volumes, research environment and conda
                packages are in place; without a <code>#!</code> line it runs with bash. At most 64 KiB
                {script ? ` (now ${scriptBytes(script).toLocaleString('en')} bytes)` : ''}.
              </>
            )}
          </p>
          <FieldError errors={fieldErrors.additional_script} />
        </div>
        <div className="field">
          <label className="check">
            <input type="checkbox" checked={memberAccess} onChange={(e) => setMemberAccess(e.target.checked)} aria-describedby="new-vm-member-access-hint" />
            Give every project member's SSH keys access
          </label>
          <p className="hint" id="new-vm-member-access-hint">
            The VM always gets the SSH keys of your profile; with this, every member of the project can log in with theirs as well.
          </p>
          {sshKeys.data && sshKeys.data.length === 0 ? (
            <p className="warning">
              Your profile has no SSH keys, so you could not log in to this VM with ssh. <Link to="/profile">Add a key to your profile</Link> first.
            </p>
          ) : null}
          <FieldError errors={fieldErrors.member_access} />
        </div>
        {left && details ? (
          <section className="quota-left" aria-labelledby="quota-left-title">
            <h2 id="quota-left-title">Quota left in {details.project.name}</h2>
            <dl>
              <dt>VMs</dt>
              <dd>{left.vms} of {details.project.quota.vms}</dd>
              <dt>Cores</dt>
              <dd>{left.cores} of {details.project.quota.cores}</dd>
              <dt>RAM</dt>
              <dd>{left.ram_gb} GB of {details.project.quota.ram_gb} GB</dd>
            </dl>
            {chosenFlavor ? (
              <p className="hint">
                This VM takes 1 VM, {chosenFlavor.vcpus} {chosenFlavor.vcpus === 1 ? 'core' : 'cores'} and {chosenFlavor.ram_gb} GB RAM.
              </p>
            ) : null}
            {tooBig ? <p className="warning" role="status">Not enough quota for this flavor: {tooBig}. The portal will refuse this VM.</p> : null}
          </section>
        ) : null}
        <ErrorText error={error} />
        <div className="actions">
          <Link className="button" to={`/vms${projectId ? `?project=${projectId}` : ''}`}>
            Cancel
          </Link>
          <button type="submit" className="primary" disabled={busy || !details || !image || !flavor}>
            {busy ? 'Creating…' : 'Create VM'}
          </button>
        </div>
      </form>
    </>
  );
}

function FieldError({ errors }: { errors?: string[] }) {
  return errors?.length ? <ErrorText error={errors.join(' ')} /> : null;
}

function remaining(quota: Amounts, usage: Amounts): Amounts {
  return {
    vms: Math.max(0, quota.vms - usage.vms),
    cores: Math.max(0, quota.cores - usage.cores),
    ram_gb: Math.max(0, quota.ram_gb - usage.ram_gb),
    volumes: Math.max(0, quota.volumes - usage.volumes),
    volume_gb: Math.max(0, quota.volume_gb - usage.volume_gb),
  };
}

function quotaShortfall(left: Amounts, flavor: Flavor): string | null {
  const short: string[] = [];
  if (left.vms < 1) short.push('no VM left');
  if (left.cores < flavor.vcpus) short.push(`${left.cores} of the ${flavor.vcpus} cores left`);
  if (left.ram_gb < flavor.ram_gb) short.push(`${left.ram_gb} of the ${flavor.ram_gb} GB RAM left`);
  return short.length ? short.join(', ') : null;
}
