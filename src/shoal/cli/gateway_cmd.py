"""``shoal gateway``: run a tree gateway on stdin and stdout, for installs that have shoal.

The root starts gateways with its zero-install loader (``python3 -c …``); a site that
installed shoal on its gateways may start them with this command instead (the
``gateway_command`` setting). It speaks the tree protocol on its stdin and stdout, which
must be pipes; it is not meant to be typed by hand.
"""

from __future__ import annotations

import sys

import click


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
def gateway() -> None:
    """Speak the tree protocol on stdin/stdout (started by a root or a parent gateway)."""
    from shoal.tree.gateway import main

    sys.exit(main())
