"""Constrained types for constructor hints, so that config options are checked by their declaration.

:func:`paddlevideo.utils.registry.check_options` validates every config option against its parameter's
hint with pydantic, which reads these ``typing.Annotated`` constraints (``annotated_types``, a pydantic
dependency). Example: ``embedding_size: PositiveInt = 512`` turns ``-o MODEL.backbone.embedding_size=-4``
into ``MODEL.backbone.embedding_size=-4: should be greater than or equal to 1``.
"""
from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Gt, Lt

__all__ = ["PositiveInt", "NonNegativeInt", "PositiveFloat", "NonNegativeFloat", "DropRate", "Probability"]

#: An integer >= 1 (sizes, counts, class numbers).
PositiveInt = Annotated[int, Ge(1)]
#: An integer >= 0.
NonNegativeInt = Annotated[int, Ge(0)]
#: A float > 0.
PositiveFloat = Annotated[float, Gt(0)]
#: A float >= 0.
NonNegativeFloat = Annotated[float, Ge(0)]
#: A dropout rate in [0, 1).
DropRate = Annotated[float, Ge(0), Lt(1)]
#: A probability strictly inside (0, 1).
Probability = Annotated[float, Gt(0), Lt(1)]

