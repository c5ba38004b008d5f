"""``python -m wgflow.cli``: the ``wgflow`` console script."""

import sys

from .app import main

sys.exit(main())
