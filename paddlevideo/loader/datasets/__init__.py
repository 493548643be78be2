from . import yt8m_tfrecord  # noqa: F401  (registration)
