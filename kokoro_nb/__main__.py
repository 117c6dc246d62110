"""`python -m kokoro_nb …` runs the command-line interface (see `kokoro_nb.cli`)."""

from .cli import main

raise SystemExit(main())
