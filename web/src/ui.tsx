// Building blocks shared by the pages: loading and error states, data loading with polling,
// paginated lists, dialogs, quota bars and formatting.
import { type DependencyList, type FormEvent, type ReactNode, useCallback, useEffect, useId, useRef, useState } from 'react';
import { type Page, ApiError, api, query } from './api';
import { setParams, useLocation } from './router';

export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  return new ApiError(0, 'error', e instanceof Error ? e.message : 'Something went wrong.');
}

export interface Resource<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  reload: () => Promise<void>;
  /** Replaces the data in hand (e.g. with an object an action returned) until the next load. */
  setData: (update: (data: T) => T) => void;
}

/** Loads `load()` when `deps` change; a later answer always wins over an earlier one. */
export function useResource<T>(load: () => Promise<T>, deps: DependencyList): Resource<T> {
  const [state, setState] = useState<{ data?: T; error?: ApiError; loading: boolean }>({ loading: true });
  const seq = useRef(0);
  const reload = useCallback(async () => {
    const n = ++seq.current;
    try {
      const data = await load();
      if (n === seq.current) setState({ data, loading: false });
    } catch (e) {
      if (n === seq.current) setState((s) => ({ data: s.data, error: toApiError(e), loading: false }));
    }
  }, deps);
  useEffect(() => {
    setState({ loading: true });
    void reload();
  }, [reload]);
  const setData = useCallback((update: (data: T) => T) => {
    seq.current++; // an answer already on its way is older than this change
    setState((s) => (s.data === undefined ? s : { ...s, data: update(s.data) }));
  }, []);
  return { data: state.data, error: state.error, loading: state.loading, reload, setData };
}

/** Reloads every `ms` while `active` (a transition runs), and stops when it ends. */
export function usePolling(active: boolean, reload: () => Promise<void>, trigger: unknown, ms = 1000): void {
  useEffect(() => {
    if (!active) return;
    const t = window.setTimeout(() => void reload(), ms);
    return () => window.clearTimeout(t);
  }, [active, reload, trigger, ms]);
}

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

const PAGE_SIZE = 50;

export interface PagedResource<T> extends Resource<Page<T>> {
  page: number;
}

/**
 * One page of a paginated API list (`{count, next, previous, results}`). The page number is the
 * address's `?page=`, so reloading or going back keeps it; a filter that changes should reset it
 * (`setParams({ filter: v, page: null })`).
 */
export function usePagedResource<T>(path: string, filters: Record<string, string | number | null | undefined>): PagedResource<T> {
  const { params } = useLocation();
  const page = Math.max(1, Number(params.get('page')) || 1);
  const url = `${path}${query({ ...filters, page, page_size: PAGE_SIZE })}`;
  const resource = useResource(() => api.get<Page<T>>(url), [url]);
  return { ...resource, page };
}

/** The previous/next links of a `usePagedResource` list, once it has loaded. */
export function ListPager({ list }: { list: Pick<PagedResource<unknown>, 'page' | 'data'> }) {
  if (!list.data) return null;
  return <Pager page={list.page} pageSize={PAGE_SIZE} count={list.data.count} onPage={(p) => setParams({ page: String(p) })} />;
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
