"""`python -m sandbox` runs the same CLI as `python -m jobs sandbox`."""

import sys

from sandbox.cli import main

sys.exit(main())
