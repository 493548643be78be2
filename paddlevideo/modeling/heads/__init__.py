from . import mlp_head  # noqa: F401
from . import moe_head  # noqa: F401
