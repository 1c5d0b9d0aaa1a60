"""Deployments as Python classes: python-deployer's model on shoal's engine."""

__all__ = []  # filled as the model lands
