"""Registries of the model parts that configs name under ``MODEL``."""
from ..utils.registry import Registry

BACKBONES = Registry("backbone")
HEADS = Registry("head")
LOSSES = Registry("loss")
RECOGNIZERS = Registry("framework")
