"""kokoro_nb: a notebook course and helper package for Russian text-to-speech on RUSLAN.

The Russian front end lives in `kokoro_nb.text` (pure Python); importing this package does
not import torch, so `RussianPhonemeProcessor` stays cheap to load.
"""

from .text import RussianPhonemeProcessor, StressInfo

__version__ = "0.1.0"
__all__ = ["RussianPhonemeProcessor", "StressInfo", "__version__"]
