// The audit log as a table, shared by the profile (the user's own events) and the superusers'
// audit page (everyone's, with who acted): newest first, one page at a time, each event's `detail`
// (spec §7) in words.
import type { UseQueryResult } from '@tanstack/react-query';
import { Fragment, type ReactNode } from 'react';
import type { AuditEvent, Page } from './api';
import { Empty, ErrorText, ListPager, LoadError, Loading, formatDate } from './ui';

/** A value of `detail` as text: the API keeps it small and flat (strings, numbers, booleans). */
const text = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/**
 * An event's `detail` in words: what was done (`os_action`, with a reboot's type), the name of what
 * was made, whom a member change was about and their role, how it was done (the command line), and
 * for a failure the error code. Keys it does not know are shown as they are, so nothing is hidden.
 */
function detailParts(detail: AuditEvent['detail']): ReactNode[] {
  if (!detail) return [];
  const { os_action, reboot_type, name, username, role, via, phase, code, ...rest } = detail;
  const parts: ReactNode[] = [];
  if (os_action !== undefined) parts.push(reboot_type !== undefined ? `${text(os_action)} (${text(reboot_type)})` : text(os_action));
  if (name !== undefined) parts.push(`“${text(name)}”`);
  if (username !== undefined) parts.push(role !== undefined ? `${text(username)} as ${text(role)}` : text(username));
  else if (role !== undefined) parts.push(`role ${text(role)}`);
  if (phase !== undefined) parts.push(text(phase));
  if (via === 'cli') parts.push('by the command line');
  else if (via !== undefined) parts.push(`via ${text(via)}`);
  for (const [k, v] of Object.entries(rest)) parts.push(`${k}: ${text(v)}`);
  if (code !== undefined) {
    parts.push(
      <>
        error <code>{text(code)}</code>
      </>,
    );
  }
  return parts;
}

function Detail({ detail }: { detail: AuditEvent['detail'] }) {
  const parts = detailParts(detail);
  if (parts.length === 0) return <>—</>;
  return (
    <span className="detail">
      {parts.map((p, i) => (
        <Fragment key={i}>
          {i > 0 ? ', ' : null}
          {p}
        </Fragment>
      ))}
    </span>
  );
}

export function AuditLog({ events, page, caption, showActor = false, emptyText }: {
  /** The page of auditPageQuery that the address asks for. */
  events: UseQueryResult<Page<AuditEvent>>;
  page: number;
  caption: string;
  /** Who acted: needed where the events are not all the viewer's own. */
  showActor?: boolean;
  emptyText: string;
}) {
  const rows = events.data?.results ?? [];
  return (
    <>
      {events.isPending ? <Loading what="the audit log" /> : null}
      {events.error && !events.data ? <LoadError error={events.error} retry={() => void events.refetch()} /> : null}
      {events.error && events.data ? <ErrorText error={events.error} /> : null}
      {events.data && rows.length === 0 ? (
        <Empty>
          <p>{emptyText}</p>
        </Empty>
      ) : null}
      {rows.length > 0 ? (
        // aria-busy while another page loads and this one is still shown.
        <table className="list audit" aria-busy={events.isPlaceholderData || undefined}>
          <caption className="visually-hidden">{caption}</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              {showActor ? <th scope="col">Actor</th> : null}
              <th scope="col">Action</th>
              <th scope="col">Details</th>
              <th scope="col">Object</th>
              <th scope="col">Key prefix</th>
              <th scope="col">IP address</th>
              <th scope="col">Outcome</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((e, i) => (
              // Events have no id in the API; on one page their position is stable.
              <tr key={`${page}-${i}`} data-action={e.action}>
                <td data-label="When">
                  <time dateTime={e.at}>{formatDate(e.at, { seconds: true })}</time>
                </td>
                {/* No actor: an anonymous leak report, or an administrator at the command line (detail says so). */}
                {showActor ? <td data-label="Actor">{e.actor ?? <span className="hint">{e.detail?.via === 'cli' ? 'command line' : 'anonymous'}</span>}</td> : null}
                <th scope="row" data-label="Action">
                  <code>{e.action}</code>
                </th>
                <td data-label="Details">
                  <Detail detail={e.detail} />
                </td>
                <td data-label="Object">{e.object_type ? `${e.object_type} ${e.object_id ?? ''}`.trim() : '—'}</td>
                <td data-label="Key prefix">{e.key_prefix ? <code>{e.key_prefix}</code> : '—'}</td>
                <td data-label="IP address">{e.ip ?? '—'}</td>
                <td data-label="Outcome">
                  <span className={`status status-${e.outcome}`}>{e.outcome}</span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <ListPager page={page} count={events.data?.count} />
    </>
  );
}
