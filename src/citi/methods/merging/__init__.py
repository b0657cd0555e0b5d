"""Weight merging baselines: a model built from the base and a trained method's weights, no training.

config.py (MergeSettings: the method's ``merge`` spec, checked) · ops.py (the per-tensor merges:
WiSE-FT, task arithmetic, TIES, DARE) · model.py (load base and donor, merge, save).

Implemented by hand, not with mergekit: see ops.py for why.
"""

from .config import KINDS, MergeSettings, merge_settings

__all__ = ["KINDS", "MergeSettings", "merge_settings"]
