"""Softbrik: business apps (Briks) for small and medium companies, as a GraphQL API."""

__version__ = "0.1.0"
