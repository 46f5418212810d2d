// The New VM form: project, image and flavor from the API, the name checked as the API checks it,
// and what is left of the project's quota shown before the user submits.
import { useQuery } from '@tanstack/react-query';
import { type FormEvent, useEffect, useState } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { VM_NAME_PATTERN } from '../../../src/shared/contract';
import type { Amounts, Flavor } from '../api';
import { ProjectSelect } from '../ProjectSelect';
import { flavorsQuery, imagesQuery, projectQuery, projectsQuery, useCreateVm } from '../queries';
import { ErrorText, LoadError, Loading, useTitle } from '../ui';

const NAME_RULE = '1–63 characters: letters, digits, dots, dashes and underscores, starting with a letter or digit.';
/** The API's own check of VM names (VmCreateBody.vm_name). */
const VM_NAME = new RegExp(VM_NAME_PATTERN);

export function nameProblem(name: string): string | null {
  if (name === '') return 'Give the VM a name.';
  return VM_NAME.test(name) ? null : `This name is not allowed. Use ${NAME_RULE}`;
}

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

  // Keep the picks valid for the project's images and flavors.
  useEffect(() => {
    if (images.data && !images.data.some((i) => i.name === image)) setImage(images.data[0]?.name ?? '');
  }, [images.data]); // only when the project's list arrives, not on each pick
  useEffect(() => {
    if (flavors.data && !flavors.data.some((f) => f.name === flavor)) setFlavor(flavors.data[0]?.name ?? '');
  }, [flavors.data]);

  const problem = nameProblem(name);
  const showNameProblem = nameTouched && problem;
  const fieldErrors = error?.errors ?? {};
  const chosenFlavor = details?.flavors.find((f) => f.name === flavor);
  const left = details ? remaining(details.project.quota, details.project.usage) : null;
  const tooBig = left && chosenFlavor ? quotaShortfall(left, chosenFlavor) : null;

  // Still busy once the VM is made, until the VM list shows it.
  const busy = create.isPending || create.isSuccess;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setNameTouched(true);
    if (problem || !projectId) return;
    create.mutate(
      { project_id: Number(projectId), image_name: image, flavor_name: flavor, vm_name: name },
      { onSuccess: (vm) => void navigate(`/vms?project=${vm.project_id}`) },
    );
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
          <ProjectSelect id="new-vm-project" label="Project" projects={projects.data ?? []} value={projectId} onChange={(v) => { setProjectId(v); create.reset(); }} required />
          <FieldError errors={fieldErrors.project_id} />
        </div>
        {detailsLoading ? <Loading what="images, flavors and quota" /> : null}
        {detailsError ? <LoadError error={detailsError} retry={retryDetails} /> : null}
        <div className="field">
          <label htmlFor="new-vm-image">Image</label>
          <select id="new-vm-image" value={image} onChange={(e) => setImage(e.target.value)} required disabled={!details}>
            {details?.images.map((i) => (
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
