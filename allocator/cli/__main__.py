"""``python -m allocator.cli``: the command line."""

import sys

from allocator.cli import main

sys.exit(main())
