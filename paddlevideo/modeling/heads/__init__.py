from . import (
    mlp_head,  # noqa: F401
    moe_head,  # noqa: F401
)
