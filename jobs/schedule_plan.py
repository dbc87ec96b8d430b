"""What the scheduler runs and how often: (name, interval in seconds, "module:function")."""

PLAN: list[tuple[str, int, str]] = []
