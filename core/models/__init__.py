"""All tables; importing this package registers every model on `Base.metadata`."""

from core.models import (
    ai,  # noqa: F401
    books,  # noqa: F401
    context,  # noqa: F401
    disputes,  # noqa: F401
    governance,  # noqa: F401
    performance,  # noqa: F401
    recovery,  # noqa: F401
    sync,  # noqa: F401
)
from core.models.base import Base

__all__ = ["Base"]
