"""Tree mode: the propagation tree's protocol, gateways and topology."""

__all__ = []
