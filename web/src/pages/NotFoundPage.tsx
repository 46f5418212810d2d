import { Link } from 'react-router';
import { useTitle } from '../ui';

export function NotFoundPage() {
  useTitle('Not found');
  return (
    <>
      <h1>Page not found</h1>
      <p>
        There is no page at this address. Go to <Link to="/vms">your VMs</Link>.
      </p>
    </>
  );
}
