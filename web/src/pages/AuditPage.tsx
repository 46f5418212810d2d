// The whole audit log, for superusers (/admin/audit), filterable by action. Others are told the
// page is not for them: the API would answer them with only their own events, which the profile shows.
import { useQuery } from '@tanstack/react-query';
import { useId } from 'react';
import { Link, useSearchParams } from 'react-router';
import { AUDIT_ACTIONS } from '../../../src/shared/contract';
import { AuditLog } from '../AuditLog';
import { auditPageQuery } from '../queries';
import { useSession } from '../session';
import { usePageParam, useSetParams, useTitle } from '../ui';

export function AuditPage() {
  useTitle('Audit log');
  const { me } = useSession();
  if (!me.is_superuser) {
    return (
      <>
        <h1>Audit log</h1>
        <p className="error" role="alert">
          Only superusers may see the audit log of all users.
        </p>
        <p>
          Your own events are on your <Link to="/profile">profile</Link>.
        </p>
      </>
    );
  }
  return <AllEvents />;
}

function AllEvents() {
  const [params] = useSearchParams();
  const setParams = useSetParams();
  const action = params.get('action') ?? '';
  const page = usePageParam();
  const events = useQuery(auditPageQuery(action ? { action } : {}, page));
  const id = useId();
  return (
    <>
      <div className="page-head">
        <h1>Audit log</h1>
      </div>
      <div className="filters">
        <label htmlFor={id}>Action</label>
        <select id={id} value={action} onChange={(e) => setParams({ action: e.target.value, page: null })}>
          <option value="">All actions</option>
          {/* An action from the address that the list lacks (a newer server) still shows as chosen. */}
          {action && !(AUDIT_ACTIONS as readonly string[]).includes(action) ? <option value={action}>{action}</option> : null}
          {AUDIT_ACTIONS.map((a) => (
            <option key={a} value={a}>
              {a}
            </option>
          ))}
        </select>
      </div>
      <AuditLog events={events} page={page} caption="Audit events of all users" showActor emptyText={action ? `No ${action} events.` : 'No events yet.'} />
    </>
  );
}
