from .builder import build_lr, build_optimizer

__all__ = ["build_lr", "build_optimizer"]
