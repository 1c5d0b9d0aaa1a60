"""Deployments as Python classes: python-deployer's model on shoal's engine."""

__all__ = []  # type: ignore[var-annotated]  # filled as the model lands
