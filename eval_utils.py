"""The seed's scoring entry point, kept so its README snippet runs unchanged from this folder:

    python3.11 -c "import sys; sys.path.append('../normalizer'); import eval_utils;
                   eval_utils.score_results('./results', 'elevenlabs/scribe_v1')"

`python -c` puts the current folder first on `sys.path`, so this file is found before any
`../normalizer/eval_utils.py`; the scoring itself is `asyncbench.scoring` (no torch, no network).
"""

from asyncbench.scoring import score_results

__all__ = ["score_results"]
