"""The interactive deployment shell and the servers that offer it remotely."""

__all__ = []  # filled as the shell lands
