"""``python -m wgflow``: the ``wgflow`` console script."""

import sys

from .cli import main

sys.exit(main())
