from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class UserConfig(BaseModel):
    """``~/.config/llmbox/config.yaml`` (or ``$LLMBOX_CONFIG``)."""

    model_config = ConfigDict(extra="forbid")
    host: str | None = None
    timeout: float | None = None
