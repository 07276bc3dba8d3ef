"""Accounts: teams, users, sessions, invitations and seats (R-ACC-1..5)."""
