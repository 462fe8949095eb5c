"""LTI 1.3: an LMS (Moodle, Canvas, Brightspace) launches Vraagbaak for a course.

Modules, one concern each:
- `store`: private files (mode 0600) and the registered platforms (`PlatformStore`, `Platform`);
- `keys`: the tool's RSA key pair (created on first use) and its public JWKS;
- `tokens`: the signed `state` of a login and the signed session of a launch (no cookies),
  and the single-use nonce store;
- `launch`: validation of a launch's `id_token` (signature against the platform's JWKS, iss,
  aud, azp, exp/iat, nonce, deployment, message type, version) -> `Launch`;
- `courses`: a launch's course -> its own collection (a folder under the corpus);
- `documents`: instructor uploads (type, size and name checks), listing and removal;
- `cli`: `qa lti add-platform | list | remove | config`.

The web routes are in `qa.web.lti_routes` and `qa.web.lti_pages`. JWT signature and claim
checks are pyjwt's (`PyJWKClient`, `jwt.decode`); nothing here verifies a signature by hand.
"""
