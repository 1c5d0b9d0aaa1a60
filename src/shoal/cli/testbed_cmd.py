"""``shoal testbed up|down|status``: the loopback sshd for demos, tests and benchmarks.

``up`` leaves sshd running in a session of its own after the command exits; ``down``
stops it. Both work on one directory per user (``/tmp/shoal-testbed-UID``) unless
``--dir`` names another, so that ``down`` finds what ``up`` started.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from shoal import testbed as tb
from shoal.errors import TestbedError

_DIR = click.option(
    "--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Where the testbed keeps its files (default: /tmp/shoal-testbed-UID).")


def _describe(bed: tb.Testbed, directory: Path) -> None:
    """Print where the testbed is and a command to try it, one fact per line."""
    config = shlex.quote(str(bed.ssh_config))
    where = "" if directory == tb.default_directory() else f" --dir {shlex.quote(str(directory))}"
    click.echo(f"sshd        {bed.host}:{bed.port} (pid {bed.pid}), logging in as {bed.user}")
    click.echo(f"nodes       {bed.nodeset} ({len(bed.nodes)})")
    if bed.gateways:
        click.echo(f"gateways    {bed.gatewayset} ({len(bed.gateways)})")
    click.echo(f"ssh_config  {bed.ssh_config}")
    click.echo(f"try         ssh -F {config} {bed.nodes[-1]} hostname")
    click.echo(f"stop        shoal testbed down{where}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def testbed() -> None:
    """Run a real OpenSSH sshd on 127.0.0.1 behind N host aliases (node1…nodeN, gw1…gwG)."""


@testbed.command()
@click.option("--nodes", type=click.IntRange(min=1), default=50, show_default=True,
              help="Number of node aliases.")
@click.option("--gateways", type=click.IntRange(min=0), default=4, show_default=True,
              help="Number of gateway aliases.")
@_DIR
def up(nodes: int, gateways: int, directory: Path | None) -> None:
    """Start the testbed, or show the one already running there."""
    directory = (directory or tb.default_directory()).absolute()
    try:
        bed = tb.load(directory)
    except TestbedError:
        bed = tb.start(directory, nodes=nodes, gateways=gateways, detach=True)
        click.echo(f"started a testbed in {directory}")
    else:
        click.echo(f"a testbed is already running in {directory}")
    _describe(bed, directory)


@testbed.command()
@_DIR
def down(directory: Path | None) -> None:
    """Stop the testbed and remove its files."""
    directory = (directory or tb.default_directory()).absolute()
    try:
        bed = tb.load(directory)
    except TestbedError:
        if not (directory / tb.STATE_FILE).exists():
            click.echo(f"no testbed in {directory}")
            return
        tb.stop(directory)
        click.echo(f"the testbed in {directory} had stopped already; removed its files")
        return
    tb.stop(bed)
    click.echo(f"stopped the testbed in {directory} (sshd pid {bed.pid})")


@testbed.command()
@_DIR
def status(directory: Path | None) -> None:
    """Show the running testbed; exit 1 when there is none."""
    directory = (directory or tb.default_directory()).absolute()
    _describe(tb.load(directory), directory)
