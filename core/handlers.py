"""The modules whose event handlers the processing queue loads (each registers with @handles)."""

HANDLER_MODULES: list[str] = [
    "core.disputes",
    "core.recovery",
]
