// What can go wrong talking to OpenStack, as values: each names the service and the request, never
// a token or a secret. The transition worker retries any of them until the transition's deadline.
import { CloudUnavailableError } from '../provider.js';

/** Nova, Glance, Cinder, Neutron or Keystone: the name the messages use. */
export type ServiceName = 'Keystone' | 'Nova' | 'Glance' | 'Cinder' | 'Neutron';

/** A setting or a catalog that cannot work (no endpoint, token without a project, …). */
export class OpenStackError extends Error {
  constructor(message: string, readonly service: ServiceName, opts: { cause?: unknown } = {}) {
    super(message, opts);
  }
}

/** The cloud answered with an error status (4xx; 5xx only once retries are used up, see below). */
export class OpenStackHttpError extends OpenStackError {
  constructor(
    service: ServiceName,
    readonly method: string,
    readonly path: string,
    readonly status: number,
    /** The fault's name in the body (`conflictingRequest`, `itemNotFound`, …), when there is one. */
    readonly fault: string | null,
    /** The cloud's own message. */
    readonly cloudMessage: string,
  ) {
    super(`${service} ${method} ${path} answered ${status}${fault ? ` ${fault}` : ''}: ${cloudMessage}`, service);
  }
}

/** Keystone refused the credentials: retrying will not help until the settings change. */
export class OpenStackAuthError extends OpenStackHttpError {}

/** The service could not be reached, timed out, or kept answering 5xx/429 after the client's retries. */
export class OpenStackUnavailableError extends CloudUnavailableError {
  constructor(message: string, readonly service: ServiceName, opts: { cause?: unknown } = {}) {
    super(message, opts);
  }
}

/** An answer that does not have the documented shape (or the microversion asked for). */
export class OpenStackResponseError extends OpenStackError {}

/** The status of a cloud error, or null for anything else. */
export function httpStatusOf(err: unknown): number | null {
  return err instanceof OpenStackHttpError ? err.status : null;
}

/** Whether the cloud answered 404: the object is not (or no longer) there. */
export const isNotFound = (err: unknown): boolean => httpStatusOf(err) === 404;
