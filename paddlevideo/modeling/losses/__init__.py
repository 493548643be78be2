from . import bce  # noqa: F401
