"""The accounts domain: users, roles and agency scopes, passwords and access tokens, the principal cache,
sign-in throttling and the audit trail. `api` only wires it (routes, the request's principal, the audit of
each request)."""
