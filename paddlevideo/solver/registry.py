"""Registries of optimizers and learning-rate schedules (Paddle's own classes, by name)."""
from ..utils.registry import Registry

OPTIMIZERS = Registry("optimizer")
LR_SCHEDULERS = Registry("lr schedule")
