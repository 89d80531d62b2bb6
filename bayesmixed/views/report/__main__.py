"""``python -m bayesmixed.views.report --out DIR``: write the primer report."""

import sys

from .build import main

sys.exit(main())
