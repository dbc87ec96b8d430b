"""All tables; importing this package registers every model on `Base.metadata`."""

from core.models import context, disputes, governance, performance, recovery, sync  # noqa: F401
from core.models.base import Base

__all__ = ["Base"]
