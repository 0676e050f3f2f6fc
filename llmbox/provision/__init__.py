"""Model provisioning: pull with progress events and retries, inventory, and declarative sync.

The core never draws: pulls report ``PullEvent``s to a callback, everything returns typed results
with ``to_dict()`` for JSON. The CLI (``llmbox.cli.models``) renders them.
"""

from llmbox.provision._inventory import (
    InstalledModel,
    ModelChange,
    ModelFacts,
    RunningInfo,
    list_models,
    load_model,
    remove_models,
    running_models,
    show_model,
    unload_model,
)
from llmbox.provision._names import keep_alive_seconds, parse_keep_alive
from llmbox.provision._pull import (
    DEFAULT_RETRIES,
    EventSink,
    LayerProgress,
    PullEvent,
    PullFinished,
    PullResult,
    PullRetry,
    PullStarted,
    PullStatus,
    backoff_delay,
    combined_exit_code,
    pull_model,
    pull_models,
)
from llmbox.provision._sync import (
    MachineSpec,
    ModelEntry,
    SyncPlan,
    SyncReport,
    apply_sync,
    load_spec,
    make_plan,
    missing_models,
    plan_sync,
)

__all__ = [
    "DEFAULT_RETRIES",
    "EventSink",
    "InstalledModel",
    "LayerProgress",
    "MachineSpec",
    "ModelChange",
    "ModelEntry",
    "ModelFacts",
    "PullEvent",
    "PullFinished",
    "PullResult",
    "PullRetry",
    "PullStarted",
    "PullStatus",
    "RunningInfo",
    "SyncPlan",
    "SyncReport",
    "apply_sync",
    "backoff_delay",
    "combined_exit_code",
    "keep_alive_seconds",
    "list_models",
    "load_model",
    "load_spec",
    "make_plan",
    "missing_models",
    "parse_keep_alive",
    "plan_sync",
    "pull_model",
    "pull_models",
    "remove_models",
    "running_models",
    "show_model",
    "unload_model",
]
