"""`python -m rnnlab` runs the command line."""

import sys

from rnnlab.cli.main import main

sys.exit(main())
