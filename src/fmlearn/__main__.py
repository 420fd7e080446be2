"""``python -m fmlearn …``: the command line, for machines without the console script."""

import sys

from fmlearn.cli import main

sys.exit(main())
