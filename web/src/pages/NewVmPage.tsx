// The New VM form: project, image and flavor from the API, the name checked as the API checks it,
// and what is left of the project's quota shown before the user submits.
import { type FormEvent, useEffect, useState } from 'react';
import { type Amounts, type ApiError, type Flavor, type Image, type Project, type Vm, VM_NAME_PATTERN, api } from '../api';
import { ProjectSelect } from '../ProjectSelect';
import { Link, navigate, useLocation } from '../router';
import { useSession } from '../session';
import { ErrorText, LoadError, Loading, toApiError, useResource, useTitle } from '../ui';

const NAME_RULE = '1–63 characters: letters, digits, dots, dashes and underscores, starting with a letter or digit.';

export function nameProblem(name: string): string | null {
  if (name === '') return 'Give the VM a name.';
  return VM_NAME_PATTERN.test(name) ? null : `This name is not allowed. Use ${NAME_RULE}`;
}

export function NewVmPage() {
  useTitle('New VM');
  const { projects } = useSession();
  const { params } = useLocation();
  const [projectId, setProjectId] = useState(params.get('project') ?? '');
  const [image, setImage] = useState('');
  const [flavor, setFlavor] = useState('');
  const [name, setName] = useState('');
  const [nameTouched, setNameTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);

  // Without a project in the address, the first one the user has.
  useEffect(() => {
    if (!projectId && projects.data?.length) setProjectId(String(projects.data[0].id));
  }, [projectId, projects.data]);

  const details = useResource(async () => {
    if (!projectId) return null;
    const base = `/api/projects/${encodeURIComponent(projectId)}`;
    const [project, images, flavors] = await Promise.all([
      api.get<Project>(`${base}/`),
      api.get<Image[]>(`${base}/images/`),
      api.get<Flavor[]>(`${base}/flavors/`),
    ]);
    return { project, images, flavors };
  }, [projectId]);

  // Keep the picks valid for the project's images and flavors.
  useEffect(() => {
    const d = details.data;
    if (!d) return;
    if (!d.images.some((i) => i.name === image)) setImage(d.images[0]?.name ?? '');
    if (!d.flavors.some((f) => f.name === flavor)) setFlavor(d.flavors[0]?.name ?? '');
  }, [details.data]); // only when the project's lists arrive, not on each pick

  const problem = nameProblem(name);
  const showNameProblem = nameTouched && problem;
  const fieldErrors = error?.errors ?? {};
  const chosenFlavor = details.data?.flavors.find((f) => f.name === flavor);
  const left = details.data ? remaining(details.data.project.quota, details.data.project.usage) : null;
  const tooBig = left && chosenFlavor ? quotaShortfall(left, chosenFlavor) : null;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setNameTouched(true);
    if (problem || !projectId) return;
    setBusy(true);
    setError(null);
    try {
      const vm = await api.post<Vm>('/api/vms/', { project_id: Number(projectId), image_name: image, flavor_name: flavor, vm_name: name });
      navigate(`/vms?project=${vm.project_id}`);
    } catch (err) {
      setError(toApiError(err));
      setBusy(false);
    }
  };

  if (projects.loading && !projects.data) return <Loading what="your projects" />;
  if (projects.error && !projects.data) return <LoadError error={projects.error} retry={projects.reload} />;
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
          <ProjectSelect id="new-vm-project" label="Project" projects={projects.data ?? []} value={projectId} onChange={(v) => { setProjectId(v); setError(null); }} required />
          <FieldError errors={fieldErrors.project_id} />
        </div>
        {details.loading && !details.data ? <Loading what="images, flavors and quota" /> : null}
        {details.error ? <LoadError error={details.error} retry={details.reload} /> : null}
        <div className="field">
          <label htmlFor="new-vm-image">Image</label>
          <select id="new-vm-image" value={image} onChange={(e) => setImage(e.target.value)} required disabled={!details.data}>
            {details.data?.images.map((i) => (
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
          <select id="new-vm-flavor" value={flavor} onChange={(e) => setFlavor(e.target.value)} required disabled={!details.data}>
            {details.data?.flavors.map((f) => (
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
        {left && details.data ? (
          <section className="quota-left" aria-labelledby="quota-left-title">
            <h2 id="quota-left-title">Quota left in {details.data.project.name}</h2>
            <dl>
              <dt>VMs</dt>
              <dd>{left.vms} of {details.data.project.quota.vms}</dd>
              <dt>Cores</dt>
              <dd>{left.cores} of {details.data.project.quota.cores}</dd>
              <dt>RAM</dt>
              <dd>{left.ram_gb} GB of {details.data.project.quota.ram_gb} GB</dd>
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
          <Link className="button" href={`/vms${projectId ? `?project=${projectId}` : ''}`}>
            Cancel
          </Link>
          <button type="submit" className="primary" disabled={busy || !details.data || !image || !flavor}>
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
