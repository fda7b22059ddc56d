"""`python -m streamapp.cli` runs the `wordstream` console script."""

import sys

from streamapp.cli import main

sys.exit(main())
