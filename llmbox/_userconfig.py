"""The user's config file, validated at the edge (flag > env > this file > defaults)."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, field_validator


class UserConfig(BaseModel):
    """``~/.config/llmbox/config.yaml`` (or ``$LLMBOX_CONFIG``); the keys are in docs/config.md."""

    model_config = ConfigDict(extra="forbid")
    host: str | None = None
    timeout: float | None = None

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: float | None) -> float | None:
        if value is not None and math.isnan(value):
            raise ValueError("timeout must be seconds (0 = no limit)")
        return value
