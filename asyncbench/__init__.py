"""asyncbench: benchmark speech-to-text endpoints on the Open ASR Leaderboard sets.

Kept import-free on purpose: `asyncbench --help` and scoring must never pay for torch,
torchcodec or datasets.
"""

__version__ = "0.1.0"
