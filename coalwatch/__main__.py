"""``python -m coalwatch`` runs the command line."""

import sys

from coalwatch.cli import main

sys.exit(main())
