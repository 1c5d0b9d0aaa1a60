"""Deployments as Python classes: python-deployer's model on shoal's engine."""
