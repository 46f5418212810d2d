import type { ProjectSummary } from './api';

/**
 * A labelled project picker; `anyLabel` adds a first choice with the value '' (with `required`,
 * a prompt the browser will not accept). `describedBy` and `invalid` tie a hint or an error to it.
 */
export function ProjectSelect({ id, label, projects, value, onChange, anyLabel, required, describedBy, invalid }: {
  id: string;
  label: string;
  projects: ProjectSummary[];
  value: string;
  onChange: (value: string) => void;
  anyLabel?: string;
  required?: boolean;
  describedBy?: string;
  invalid?: boolean;
}) {
  return (
    <>
      <label htmlFor={id}>{label}</label>
      <select
        id={id}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        required={required}
        aria-describedby={describedBy}
        aria-invalid={invalid ? true : undefined}
      >
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
