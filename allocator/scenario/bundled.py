"""The scenarios and models that ship with allocator, found from anywhere.

They live in ``allocator/bundled/`` (``models/`` and ``scenarios/`` at the top of the
repository are links to them), so a checkout and an installed wheel hold them in the
same place. `bundled_root` finds them, so ``allocator run quickstart`` and ``allocator
new`` work from any directory.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent


def bundled_root() -> Path | None:
    """The folder holding the bundled ``models/`` and ``scenarios/``, or None if neither is there."""
    for root in (_PACKAGE / "bundled",):
        if (root / "models" / "need").is_dir() and (root / "scenarios").is_dir():
            return root
    return None


def bundled_scenarios() -> dict[str, Path]:
    """Every bundled scenario by name (its folder name)."""
    root = bundled_root()
    if root is None:
        return {}
    return {p.name: p for p in sorted((root / "scenarios").iterdir()) if (p / "scenario.toml").is_file()}


def resolve(path: str | Path) -> Path:
    """``path`` itself if it exists (or looks like a path), else the bundled scenario of that name.

    >>> resolve("quickstart").name
    'quickstart'
    >>> resolve("no/such/folder")
    PosixPath('no/such/folder')
    """
    given = Path(path)
    if given.exists() or len(given.parts) != 1 or given.suffix:
        return given
    return bundled_scenarios().get(str(given), given)
