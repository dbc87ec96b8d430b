"""All tables; importing this package registers every model on `Base.metadata`."""

from core.models import governance, sync  # noqa: F401
from core.models.base import Base

__all__ = ["Base"]
