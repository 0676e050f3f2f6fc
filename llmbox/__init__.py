"""llmbox: provision, benchmark and size local LLMs.

Importing ``llmbox`` is deliberately cheap: it exposes the version and nothing else, so that
``llmbox --help`` and ``hw-estimate`` never pay for the HTTP stack or rich.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
