from . import mlp_head  # noqa: F401
