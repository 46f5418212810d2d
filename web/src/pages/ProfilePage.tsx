// The profile, with the user's SSH keys (spec §9, SshKeys.tsx), the API keys section of spec §6
// (beta: users the beta gate excludes are told that keys are not available to them yet; the section
// itself is ApiKeys.tsx, which a project's API Keys tab shows too) and the user's own audit log.
import { useQuery } from '@tanstack/react-query';
import { ApiKeys, ApiKeysUnavailable } from '../ApiKeys';
import { AuditLog } from '../AuditLog';
import { SshKeys } from '../SshKeys';
import { auditPageQuery } from '../queries';
import { useSession } from '../session';
import { usePageParam, useTitle } from '../ui';

export function ProfilePage() {
  useTitle('Profile');
  const { me } = useSession();
  // For a user who is not a superuser the API answers only their own events (and those done to their keys and objects).
  const page = usePageParam();
  const events = useQuery(auditPageQuery({}, page));
  return (
    <>
      <h1>Profile</h1>
      <dl className="facts">
        <dt>Username</dt>
        <dd>{me.username}</dd>
        <dt>Role</dt>
        <dd>{me.is_superuser ? 'Superuser' : 'User'}</dd>
      </dl>
      {/* Key writes refresh the log below too: each writes an audit event (queries.ts). */}
      <SshKeys />
      {me.api_keys_enabled ? <ApiKeys /> : <ApiKeysUnavailable />}
      <section className="audit-log" aria-labelledby="audit-log-title">
        <div className="page-head">
          <h2 id="audit-log-title">Your audit log</h2>
        </div>
        <p className="hint">What you did, and what was done to your keys and objects, newest first.</p>
        <AuditLog events={events} page={page} caption="Your audit events" emptyText="Nothing has been recorded yet." />
      </section>
    </>
  );
}
