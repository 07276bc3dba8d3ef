"""The `softbrik` command."""

import click


@click.group()
def main() -> None:
    """Softbrik operations."""
