"""Threat detection (R-SEC-3): the audit log, the detectors that read it, and what they do.

- `audit`: every GraphQL operation, sign-in and download, recorded without secrets or personal
  data (who, team, operation, client address, outcome, duration), written in batches.
- `detectors`: turn the log into findings (credential stuffing, request rate above the user's
  own baseline, enumeration, revoked tokens, admin sessions from new addresses, bulk downloads,
  schema probing in production).
- `findings`: one open finding per attack (dedup), high-severity ones acted on (sessions
  revoked or the account locked) and told to the team's administrators by e-mail.
"""
