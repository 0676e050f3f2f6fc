"""Moved to ``llmbox.report.output`` (views and terminal helpers live in ``report/``).

Kept only so the bench command's modules keep importing until they switch; new code imports
``llmbox.report.output``.
"""

from __future__ import annotations

from llmbox.report.output import Output, color_enabled, is_tty, print_error

__all__ = ["Output", "color_enabled", "is_tty", "print_error"]
