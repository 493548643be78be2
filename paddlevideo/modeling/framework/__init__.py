from . import recognizer  # noqa: F401
