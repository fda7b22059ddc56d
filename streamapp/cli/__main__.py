"""`python -m streamapp.cli` runs the `wordstream` console script."""

import sys

from streamapp.cli import main

# Guarded: faust's autodiscovery (origin="streamapp") imports every module of the
# package, this one included, when a worker starts.
if __name__ == "__main__":
    sys.exit(main())
