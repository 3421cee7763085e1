"""Rebuild the bundled scenarios and models, and the maps' boundaries, from the shared public data.

    python -m allocator.build --shared ../shared/data [--out PROJECT_ROOT] [--only boundaries]
    python -m allocator.build --only outturn [--out PROJECT_ROOT]

``--only outturn`` rewrites only england-la's synthetic outturn (`allocator.build.outturn`) from
the scenario as it is: it needs no shared data.

Exit codes: 0 built; 2 the shared data folder or a file in it is missing; 1 the
data are not what the build expects (a check failed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from allocator.build import boundaries, outturn
from allocator.build.checks import BuildError, MissingDataError
from allocator.build.scenarios import build
from allocator.errors import AllocatorError

#: The checkout this package is in: models/ and scenarios/ are written here by default.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m allocator.build",
        description="Build scenarios/{england-lsoa,england-la,quickstart}, models/ and the maps' "
                    "boundaries (allocator/reports/data) from the shared public data.")
    parser.add_argument("--shared", type=Path,
                        help="the shared data folder, e.g. ../shared/data (not needed with --only outturn)")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT,
                        help=f"project root to write models/ and scenarios/ into "
                             f"(default: {PROJECT_ROOT})")
    parser.add_argument("--only", choices=["boundaries", "outturn"],
                        help="rebuild only the maps' boundaries (allocator/reports/data), or only england-la's "
                             "synthetic outturn (outturn.csv, observed.csv)")
    args = parser.parse_args(argv)
    if args.only == "outturn":
        try:
            written = outturn.build(args.out)
        except AllocatorError as error:  # the scenario it is built from does not load or solve
            print(error, file=sys.stderr)
            return error.exit_code
        print("\n".join(map(str, written)))
        return 0
    if args.shared is None:
        parser.error("the following arguments are required: --shared")
    maps = args.out / "allocator" / "reports" / "data"
    try:
        if args.only is None:
            build(args.shared, args.out)
            outturn.build(args.out)  # from england-la as just written
        sizes = boundaries.build(args.shared, maps)
    except MissingDataError as error:
        print(error, file=sys.stderr)
        return 2
    except BuildError as error:
        print(error, file=sys.stderr)
        return 1
    for name, size in sizes.items():
        print(f"{maps / name}: {size / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
