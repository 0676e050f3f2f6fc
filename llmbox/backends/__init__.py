"""Backends: the servers (and the embedded engine) llmbox can benchmark.

Every backend turns one request into the same ``RunSample`` so reports, gates, comparisons and the
estimator's calibration work unchanged whatever produced the numbers.
"""

from llmbox.backends.base import Backend, GenRequest

__all__ = ["Backend", "GenRequest"]
