"""``python -m pegload.onebox``: the same as ``pegload onebox``."""
import sys

from .cli import main

sys.exit(main())
