"""Fixtures of the platform's own tests (the shared ones come from `softbrik.testing`)."""
