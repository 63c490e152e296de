"""The `huoma` command."""

from router.cli.main import main

__all__ = ["main"]
