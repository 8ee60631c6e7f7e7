"""``python -m qubico_nb`` is the ``qubico-nb`` command."""

import sys

from .cli import main

sys.exit(main())
