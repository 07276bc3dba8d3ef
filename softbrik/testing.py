"""pytest plugin and helpers for the platform's and Briks' tests."""
