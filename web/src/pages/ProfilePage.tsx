// The profile, with the password form (ChangePassword.tsx), the user's SSH keys (spec §9,
// SshKeys.tsx), the API keys section of spec §6 (beta: users the beta gate excludes are told that
// keys are not available to them yet; the section itself is ApiKeys.tsx, which a project's API Keys
// tab shows too) and the user's own audit log (?mine=true: a superuser's too, spec §6).
import { useQuery } from '@tanstack/react-query';
import { ApiKeys, ApiKeysUnavailable } from '../ApiKeys';
import { AuditLog } from '../AuditLog';
import { ChangePassword } from '../ChangePassword';
import { SshKeys } from '../SshKeys';
import { auditPageQuery } from '../queries';
import { useSession } from '../session';
import { usePageParam, useTitle } from '../ui';

export function ProfilePage() {
  useTitle('Profile');
  const { me } = useSession();
  // Only the user's own events (and those done to their keys and objects), also for a superuser,
  // whom /admin/audit shows everyone's.
  const page = usePageParam();
  const events = useQuery(auditPageQuery({ mine: true }, page));
  return (
    <>
      <h1>Profile</h1>
      <dl className="facts">
        <dt>Username</dt>
        <dd>{me.username}</dd>
        <dt>Role</dt>
        <dd>{me.is_superuser ? 'Superuser' : 'User'}</dd>
      </dl>
      {/* Key and password writes refresh the log below too: each writes an audit event (queries.ts). */}
      <ChangePassword />
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
