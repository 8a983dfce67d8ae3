"""One rule several settings models share: a lower bound must not pass its upper bound.

The error carries the field names and values as context, so the settings can say it with the
environment variables' names while the domain says it with its own.
"""

from __future__ import annotations

from pydantic import BaseModel
from pydantic_core import PydanticCustomError

OUT_OF_ORDER = "out_of_order"


def ordered(model: BaseModel, low: str, high: str, *, strict: bool, message: str | None = None) -> None:
    """Raises when ``low`` exceeds ``high`` (or equals it, when ``strict``); an unset ``high`` is
    no bound. ``message`` may use ``{low}``, ``{high}``, ``{low_value}`` and ``{high_value}``."""
    low_value, high_value = getattr(model, low), getattr(model, high)
    if high_value is None or (low_value < high_value if strict else low_value <= high_value):
        return
    relation = "be below" if strict else "not exceed"
    raise PydanticCustomError(
        OUT_OF_ORDER, message or "{low} ({low_value}) must " + relation + " {high} ({high_value})",
        {"low": low, "high": high, "low_value": f"{low_value:g}", "high_value": f"{high_value:g}",
         "relation": relation})
