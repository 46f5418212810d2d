// Building blocks shared by the pages: loading and error states, copy buttons, the address's query parameters,
// paginated lists, dialogs, tabs, quota bars and formatting. Data loading is react-query's (queries.ts).
import { type FormEvent, type KeyboardEvent, type ReactNode, useCallback, useEffect, useId, useRef, useState } from 'react';
import { useSearchParams } from 'react-router';
import type { ApiError } from './api';
import { PAGE_SIZE } from './queries';

export function useTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · SimpleVM portal`;
  }, [title]);
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="loading" role="status">
      <span className="spinner" aria-hidden="true" /> Loading {what}…
    </p>
  );
}

/** An API failure, shown with its `detail` where it happened. */
export function ErrorText({ error, id }: { error: ApiError | string | null | undefined; id?: string }) {
  if (!error) return null;
  const text = typeof error === 'string' ? error : error.detail;
  return (
    <p className="error" role="alert" id={id}>
      {text}
    </p>
  );
}

export function LoadError({ error, retry }: { error: ApiError; retry: () => void }) {
  return (
    <div className="load-error">
      <ErrorText error={error} />
      <button type="button" onClick={retry}>
        Try again
      </button>
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

/** How long "Copied" stays beside a copy button. */
const COPIED_MS = 5000;

/**
 * The one Copy button for a value the user needs elsewhere (an id, an ssh line, a new API key):
 * `label` is its accessible name ("Copy ssh command"); beside it, "Copied" once the clipboard has
 * it, or how to copy by hand where the browser gives no clipboard (a page not on https), after
 * `onFailed` (which may select the text for the user).
 */
export function CopyButton({ text, label, primary, onFailed }: { text: string; label: string; primary?: boolean; onFailed?: () => void }) {
  const [copied, setCopied] = useState<'yes' | 'failed' | null>(null);
  useEffect(() => {
    if (copied !== 'yes') return;
    const timer = setTimeout(() => setCopied(null), COPIED_MS);
    return () => clearTimeout(timer);
  }, [copied]);
  // Another value: what was copied before is not this one.
  useEffect(() => setCopied(null), [text]);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied('yes');
    } catch {
      onFailed?.();
      setCopied('failed');
    }
  };
  return (
    <span className="copy">
      <button type="button" className={primary ? 'primary' : undefined} aria-label={label} onClick={() => void copy()}>
        Copy
      </button>
      <span role="status" className="copy-status">
        {copied === 'yes' ? 'Copied' : copied === 'failed' ? 'Could not copy: select the text and copy it by hand.' : ''}
      </span>
    </span>
  );
}

/**
 * An id the API asks for (a project's id, a VM's or a volume's openstack_id), with its Copy button;
 * `short`: only its start is shown on a wide screen, as in a table's column.
 */
export function CopyableId({ id, label, testId, short }: { id: string | number; label: string; testId?: string; short?: boolean }) {
  return (
    <span className={short ? 'copyable-id short' : 'copyable-id'}>
      <code className="id" data-testid={testId} title={short ? String(id) : undefined}>
        {id}
      </code>
      <CopyButton text={String(id)} label={label} />
    </span>
  );
}

/**
 * A modal dialog (native <dialog>: focus stays inside, Escape cancels). It is shown while it is
 * rendered; focus returns to whatever had it before.
 */
export function Dialog({ title, children, onCancel, onSubmit, submitLabel, busy, error, submitDisabled, danger }: {
  title: string;
  children?: ReactNode;
  onCancel: () => void;
  onSubmit: () => void;
  submitLabel: string;
  busy?: boolean;
  error?: ApiError | string | null;
  submitDisabled?: boolean;
  danger?: boolean;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    const before = document.activeElement as HTMLElement | null;
    if (dialog && !dialog.open) dialog.showModal();
    return () => {
      dialog?.close();
      before?.focus?.();
    };
  }, []);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!busy && !submitDisabled) onSubmit();
  };
  return (
    <dialog
      ref={ref}
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault();
        if (!busy) onCancel();
      }}
    >
      <form onSubmit={submit}>
        <h2 id={titleId}>{title}</h2>
        {children}
        <ErrorText error={error} />
        <div className="actions">
          <button type="button" onClick={onCancel} disabled={busy}>
            Cancel
          </button>
          <button type="submit" className={danger ? 'danger' : 'primary'} disabled={busy || submitDisabled}>
            {submitLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}

/**
 * A tab strip and the selected tab's panel, as the WAI-ARIA tabs pattern has it: one Tab stop for
 * the strip (the selected tab), the arrow keys, Home and End move between tabs and select them.
 * Only the selected panel is rendered, so a tab's reads start when it is opened.
 */
export function Tabs<T extends string>({ label, tabs, selected, onSelect, children }: {
  label: string;
  tabs: readonly { id: T; label: string }[];
  selected: T;
  onSelect: (id: T) => void;
  children: ReactNode;
}) {
  const ids = useId();
  const buttons = useRef(new Map<T, HTMLButtonElement>());
  const tabId = (id: T) => `${ids}-tab-${id}`;
  const onKeyDown = (e: KeyboardEvent) => {
    const at = tabs.findIndex((t) => t.id === selected);
    const last = tabs.length - 1;
    const to = ({ ArrowRight: at === last ? 0 : at + 1, ArrowLeft: at === 0 ? last : at - 1, Home: 0, End: last } as Record<string, number>)[e.key];
    if (to === undefined) return;
    e.preventDefault();
    onSelect(tabs[to].id);
    buttons.current.get(tabs[to].id)?.focus();
  };
  return (
    <>
      <div role="tablist" aria-label={label} className="tabs" onKeyDown={onKeyDown}>
        {tabs.map((t) => (
          <button
            key={t.id}
            ref={(el) => {
              if (el) buttons.current.set(t.id, el);
              else buttons.current.delete(t.id);
            }}
            type="button"
            role="tab"
            id={tabId(t.id)}
            aria-selected={t.id === selected}
            aria-controls={t.id === selected ? `${ids}-panel` : undefined}
            tabIndex={t.id === selected ? 0 : -1}
            onClick={() => onSelect(t.id)}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`${ids}-panel`} aria-labelledby={tabId(selected)} className="tab-panel">
        {children}
      </div>
    </>
  );
}

/** Quota use as a bar, with the numbers in words beside it. */
export function QuotaBar({ label, used, quota, unit = '' }: { label: string; used: number; quota: number; unit?: string }) {
  const id = useId();
  const u = unit ? ` ${unit}` : '';
  return (
    <div className="quota">
      <label htmlFor={id}>{label}</label>
      <meter id={id} min={0} max={Math.max(quota, 1)} value={Math.min(used, Math.max(quota, 1))} low={quota * 0.75} high={quota * 0.9} optimum={0}>
        {used} of {quota}
      </meter>
      <span className="quota-text">
        {used}
        {u} of {quota}
        {u} used
      </span>
    </div>
  );
}

export function formatDate(iso: string | null, opts: { seconds?: boolean } = {}): string {
  if (!iso) return 'never';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, {
    year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', ...(opts.seconds ? { second: '2-digit' } : {}),
  });
}

/** Changes some query parameters of the current page ('' or null removes one), as a new history entry. */
export function useSetParams(): (updates: Record<string, string | null>) => void {
  const [, setSearchParams] = useSearchParams();
  return useCallback(
    (updates) =>
      setSearchParams((current) => {
        const next = new URLSearchParams(current);
        for (const [k, v] of Object.entries(updates)) {
          if (v === null || v === '') next.delete(k);
          else next.set(k, v);
        }
        return next;
      }),
    [setSearchParams],
  );
}

/**
 * The page of a paginated list that the address asks for (`?page=`), so reloading or going back
 * keeps it; a filter that changes should reset it (`setParams({ filter: v, page: null })`).
 */
export function usePageParam(): number {
  const [params] = useSearchParams();
  return Math.max(1, Number(params.get('page')) || 1);
}

/** The previous/next links of a paginated list, once it has loaded; they change the address's `?page=`. */
export function ListPager({ page, count }: { page: number; count: number | undefined }) {
  const setParams = useSetParams();
  if (count === undefined) return null;
  return <Pager page={page} pageSize={PAGE_SIZE} count={count} onPage={(p) => setParams({ page: String(p) })} />;
}

/** Previous/next links for a paginated list. */
function Pager({ page, pageSize, count, onPage }: { page: number; pageSize: number; count: number; onPage: (page: number) => void }) {
  const pages = Math.max(1, Math.ceil(count / pageSize));
  if (pages <= 1) return null;
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" onClick={() => onPage(page - 1)} disabled={page <= 1}>
        Previous page
      </button>
      <span>
        Page {page} of {pages}
      </span>
      <button type="button" onClick={() => onPage(page + 1)} disabled={page >= pages}>
        Next page
      </button>
    </nav>
  );
}
