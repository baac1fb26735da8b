"""``python -m chatactors``: the same as the ``chatactors`` command."""

import sys

from chatactors.cli import main

sys.exit(main())
