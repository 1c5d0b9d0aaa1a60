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
from shoal.testbed.user import LOGIN_USER, remove_dedicated_user

_DIR = click.option(
    "--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Where the testbed keeps its files (default: /tmp/shoal-testbed-UID).")


def _describe(bed: tb.Testbed, directory: Path) -> None:
    """Print where the testbed is and a command to try it, one fact per line."""
    config = shlex.quote(str(bed.ssh_config))
    where = _dir_option(directory)
    ports = ",".join(str(port) for port in bed.ports)
    click.echo(f"sshd        {bed.host}:{ports} (pid {bed.pid}), logging in as {bed.user}")
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
@click.option("--user", metavar="NAME", default=None,
              help=f"Account to log in as (default: {LOGIN_USER} as root, else you).")
@click.option("--listeners", type=click.IntRange(min=1), default=1, show_default=True,
              help="Loopback ports sshd listens on (each has its own accept queue of 128).")
@_DIR
def up(nodes: int, gateways: int, user: str | None, listeners: int,
       directory: Path | None) -> None:
    """Start the testbed, or show the one already running there."""
    directory = (directory or tb.default_directory()).absolute()
    try:
        bed = tb.load(directory)
    except TestbedError:
        bed = tb.start(directory, nodes=nodes, gateways=gateways, user=user,
                       listeners=listeners, detach=True)
        click.echo(f"started a testbed in {directory}")
    else:
        have = (len(bed.nodes), len(bed.gateways), len(bed.ports))
        if have != (nodes, gateways, listeners) and _given("nodes", "gateways", "listeners"):
            raise TestbedError(
                f"a testbed with {have[0]} nodes, {have[1]} gateways and {have[2]} "
                f"listeners already runs in {directory}, not {nodes}, {gateways} and "
                f"{listeners}: stop it first (shoal testbed down{_dir_option(directory)})")
        click.echo(f"a testbed is already running in {directory}")
    _describe(bed, directory)


def _given(*names: str) -> bool:
    """Whether any of the options ``names`` was typed (not left at its default)."""
    ctx = click.get_current_context()
    return any(ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE
               for name in names)


def _dir_option(directory: Path) -> str:
    """`` --dir DIR`` when ``directory`` is not the default one, for commands we suggest."""
    return "" if directory == tb.default_directory() else f" --dir {shlex.quote(str(directory))}"


@testbed.command()
@click.option("--purge", is_flag=True,
              help=f"Also remove the login account the testbed created ({LOGIN_USER}).")
@_DIR
def down(purge: bool, directory: Path | None) -> None:
    """Stop the testbed and remove its files (--purge: and its login account)."""
    directory = (directory or tb.default_directory()).absolute()
    user = LOGIN_USER
    try:
        bed = tb.load(directory)
    except TestbedError:
        if not (directory / tb.STATE_FILE).exists():
            click.echo(f"no testbed in {directory}")
        else:
            tb.stop(directory)
            click.echo(f"the testbed in {directory} had stopped already; removed its files")
    else:
        user = bed.user
        tb.stop(bed)
        click.echo(f"stopped the testbed in {directory} (sshd pid {bed.pid})")
    if purge:
        if remove_dedicated_user(user):
            click.echo(f"removed user {user} and its home")
        else:
            click.echo(f"no user {user} to remove")


@testbed.command()
@_DIR
def status(directory: Path | None) -> None:
    """Show the running testbed; exit 1 when there is none."""
    directory = (directory or tb.default_directory()).absolute()
    _describe(tb.load(directory), directory)
