from . import attention_lstm  # noqa: F401
