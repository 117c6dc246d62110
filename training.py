"""The seed's entry point: ``python training.py [flags]`` is ``python -m kokoro_nb train [flags]``."""

import sys

from kokoro_nb.cli import main

sys.exit(main(["train", *sys.argv[1:]]))
