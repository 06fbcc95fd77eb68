"""`python -m tools.broker up|down|status|jars`."""

import sys

from tools.broker import main

sys.exit(main())
