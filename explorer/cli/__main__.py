"""`python -m explorer.cli`: the same as the `trial-explorer` console script."""

import sys

from explorer.cli.entry import main

sys.exit(main())
