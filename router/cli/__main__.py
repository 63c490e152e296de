"""`python -m router.cli`: what the supervisor starts for each worker."""

import sys

from router.cli.main import main

# Guarded: a spawned child (the OCR process) imports this module again as __mp_main__, and must
# not start another command.
if __name__ == "__main__":
    sys.exit(main())
