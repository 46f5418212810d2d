// The audit log as a table, shared by the profile (the user's own events) and the superusers'
// audit page (everyone's): newest first, one page at a time.
import type { UseQueryResult } from '@tanstack/react-query';
import type { AuditEvent, Page } from './api';
import { Empty, ErrorText, ListPager, LoadError, Loading, formatDate } from './ui';

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
              {showActor ? <th scope="col">User</th> : null}
              <th scope="col">Action</th>
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
                {showActor ? <td data-label="User">{e.actor ?? <span className="hint">anonymous</span>}</td> : null}
                <th scope="row" data-label="Action">
                  <code>{e.action}</code>
                </th>
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
