"""`python -m router.cli`: what the supervisor starts for each worker."""

import sys

from router.cli.main import main

sys.exit(main())
