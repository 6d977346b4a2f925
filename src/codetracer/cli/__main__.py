"""``python -m codetracer.cli`` is the ``codetracer`` command (as ``python -m codetracer`` is)."""

import sys

from codetracer.cli import main

sys.exit(main())
