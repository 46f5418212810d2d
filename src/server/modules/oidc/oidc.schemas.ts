import { Type } from '@sinclair/typebox';

export const OidcInfo = Type.Object(
  {
    enabled: Type.Boolean({ description: 'Whether single sign-on (OpenID Connect) is configured.' }),
    name: Type.Union([Type.String(), Type.Null()], { description: 'The provider\'s label for a "Log in with …" button (SIMPLEVM_OIDC_NAME); null when off.' }),
    login_url: Type.Union([Type.String(), Type.Null()], {
      description: 'Where the browser goes to log in with the provider; add `?next=/path` to come back to a page of the web app.',
    }),
    local_login: Type.Boolean({ description: 'Whether POST /api/auth/login accepts passwords (SIMPLEVM_LOCAL_LOGIN).' }),
  },
  { $id: 'OidcInfo' },
);

export const OidcLoginQuery = Type.Object({
  next: Type.Optional(Type.String({ description: 'A path of the web app to return to after login, percent-encoded where a URL needs it; other values are ignored.' })),
});

export const EndSessionResponse = Type.Object(
  {
    url: Type.Union([Type.String(), Type.Null()], {
      description:
        'The provider\'s end-session URL for this session (with its ID token as hint). After POST /api/auth/logout the web app sends the browser there, ' +
        'so that the single sign-on session ends too. Null for a password login or a provider without an end_session_endpoint.',
    }),
  },
  { $id: 'EndSession' },
);
