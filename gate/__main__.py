"""``python -m gate`` is the same as ``egate``."""

import sys

from gate.cli import main

sys.exit(main())
