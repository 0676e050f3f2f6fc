"""Wire clients. ``OllamaClient`` speaks Ollama's native API."""

from llmbox.client._http import Timeouts
from llmbox.client._models import (
    ModelDetails,
    ModelSummary,
    PullProgress,
    RunningModel,
    ShowResponse,
    processor_label,
)
from llmbox.client._ndjson import Part, iter_ndjson
from llmbox.client._ollama import OllamaClient

__all__ = [
    "ModelDetails",
    "ModelSummary",
    "OllamaClient",
    "Part",
    "PullProgress",
    "RunningModel",
    "ShowResponse",
    "Timeouts",
    "iter_ndjson",
    "processor_label",
]
