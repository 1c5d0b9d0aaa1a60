"""``shoal testbed up|down|status``: the loopback sshd for demos, tests and benchmarks."""

from __future__ import annotations

from pathlib import Path

import click

from shoal import testbed as tb
from shoal.errors import TestbedError

_DIR = click.option(
    "--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Where the testbed keeps its files (default: /tmp/shoal-testbed-UID).")


def _describe(bed: tb.Testbed) -> None:
    click.echo(f"sshd:       {bed.host}:{bed.port} (pid {bed.pid}), login user {bed.user}")
    click.echo(f"nodes:      {bed.nodeset} ({len(bed.nodes)})"
               + (f", gateways gw[1-{len(bed.gateways)}]" if bed.gateways else ""))
    click.echo(f"ssh_config: {bed.ssh_config}")
    click.echo(f"try:        ssh -F {bed.ssh_config} {bed.nodes[-1]} hostname")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def testbed() -> None:
    """Run a real OpenSSH sshd on 127.0.0.1 behind N host aliases (node1…nodeN, gw1…)."""


@testbed.command()
@click.option("--nodes", type=click.IntRange(min=1), default=50, show_default=True,
              help="Number of node aliases.")
@click.option("--gateways", type=click.IntRange(min=0), default=4, show_default=True,
              help="Number of gateway aliases.")
@_DIR
def up(nodes: int, gateways: int, directory: Path | None) -> None:
    """Start the testbed (or show the one already running)."""
    directory = directory or tb.default_directory()
    try:
        bed = tb.load(directory)
    except TestbedError:
        tb.stop(directory)  # clear what a dead testbed left behind
        bed = tb.start(directory, nodes=nodes, gateways=gateways, detach=True)
    else:
        click.echo(f"a testbed is already running in {directory}")
    _describe(bed)


@testbed.command()
@_DIR
def down(directory: Path | None) -> None:
    """Stop the testbed and remove its files."""
    directory = directory or tb.default_directory()
    if not directory.exists():
        click.echo(f"no testbed in {directory}")
        return
    tb.stop(directory)
    click.echo(f"stopped the testbed in {directory}")


@testbed.command()
@_DIR
def status(directory: Path | None) -> None:
    """Show the running testbed; exit 1 when there is none."""
    _describe(tb.load(directory or tb.default_directory()))
