"""``python -m codetracer`` is the ``codetracer`` command."""

import sys

from codetracer.cli import main

sys.exit(main())
