from . import attention_lstm  # noqa: F401
from . import attention_cluster  # noqa: F401
