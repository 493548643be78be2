from . import (
    yt8m_pkl,  # noqa: F401  (registration)
    yt8m_segment,  # noqa: F401  (registration)
    yt8m_tfrecord,  # noqa: F401  (registration)
)
