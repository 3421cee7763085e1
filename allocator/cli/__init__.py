"""The command line: ``allocator validate | run | compare | report | frontier | gradient | sweep
| monitor | new | template | app``. Only this package imports Click; `allocator.cli.main` is the entry point."""

from allocator.cli import app, building, monitoring, solving, sweeping  # noqa: F401  (each registers its commands)
from allocator.cli.base import exit_code, main

__all__ = ["exit_code", "main"]
