"""Rebuild the bundled scenarios and models, and the maps' boundaries, from the shared public data.

    python -m allocator.build --shared ../shared/data [--out PROJECT_ROOT]

Exit codes: 0 built; 2 the shared data folder or a file in it is missing; 1 the
data are not what the build expects (a check failed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from allocator.build import boundaries
from allocator.build.checks import exit_status
from allocator.build.scenarios import build

#: The checkout this package is in: models/ and scenarios/ are written here by default.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m allocator.build",
        description="Build scenarios/{england-lsoa,england-la,quickstart}, models/ and the maps' "
                    "boundaries (allocator/reports/data) from the shared public data.")
    parser.add_argument("--shared", type=Path, required=True,
                        help="the shared data folder, e.g. ../shared/data")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT,
                        help=f"project root to write models/ and scenarios/ into "
                             f"(default: {PROJECT_ROOT})")
    args = parser.parse_args(argv)
    def both() -> None:
        build(args.shared, args.out)
        boundaries.build(args.shared, args.out / "allocator" / "reports" / "data")

    return exit_status(both)


if __name__ == "__main__":
    sys.exit(main())
