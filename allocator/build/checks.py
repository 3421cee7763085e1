"""Errors of the build: the shared data are missing, or not what the build expects."""

from __future__ import annotations

from allocator.errors import AllocatorError

#: Where the public data live relative to the project, and why a clone lacks them.
SHARED_HINT = ("building the bundled scenarios needs the public data folder ../shared/data "
               "(not part of a clone; the bundled scenarios are already in scenarios/)")


class BuildError(AllocatorError):
    """The shared data are not what the build expects (a check on them failed)."""


class MissingDataError(BuildError):
    """The shared data folder, or a file the build reads from it, is missing."""


def check(condition: bool, message: str) -> None:
    """Stop the build with a message: the shared data are not what the build expects."""
    if not condition:
        raise BuildError(f"check failed: {message}")
