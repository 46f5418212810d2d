import type { ProjectSummary } from './api';

/** A labelled project picker; `anyLabel` adds a first choice with the value ''. */
export function ProjectSelect({ id, label, projects, value, onChange, anyLabel, required }: {
  id: string;
  label: string;
  projects: ProjectSummary[];
  value: string;
  onChange: (value: string) => void;
  anyLabel?: string;
  required?: boolean;
}) {
  return (
    <>
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)} required={required}>
        {anyLabel !== undefined ? <option value="">{anyLabel}</option> : null}
        {projects.map((p) => (
          <option key={p.id} value={String(p.id)}>
            {p.name}
          </option>
        ))}
      </select>
    </>
  );
}
