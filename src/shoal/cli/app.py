"""The root ``shoal`` group, its lazy subcommand table and error reporting."""

from __future__ import annotations

import importlib
import os
import sys

import click

from shoal import __version__
from shoal.errors import (
    ConfigError,
    NodeSetParseError,
    NoGroupSourceError,
    ShoalError,
    UnknownGroupError,
    UnknownGroupSourceError,
    UsageError,
)

#: subcommand name -> (module, attribute, one-line help); modules load on use.
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "copy": ("shoal.cli.run_cmd", "copy", "Copy files to or from many nodes (shoal run --copy)."),
    "deploy": ("shoal.cli.deploy_cmd", "deploy", "Run an action of a deployment script."),
    "nodeset": ("shoal.cli.nodeset_cmd", "nodeset", "Fold, expand, count and combine node sets."),
    "run": ("shoal.cli.run_cmd", "run", "Run a command on many nodes at once, like clush."),
    "testbed": ("shoal.testbed.command", "testbed", "Run a loopback sshd with N node aliases."),
    "topology": ("shoal.cli.topology_cmd", "topology",
                 "Show the propagation tree and how each node is reached through it."),
}

#: errors caused by what the user typed or wrote: exit status 2, like usage errors.
INPUT_ERRORS = (
    NoGroupSourceError,
    NodeSetParseError,
    ConfigError,
    UnknownGroupError,
    UnknownGroupSourceError,
    UsageError,
)


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = SUBCOMMANDS.get(cmd_name)
        if entry is None:
            return None
        module, attr, _ = entry
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Help lists the commands from the table, without importing each module.
        rows = [(name, SUBCOMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="shoal")
def cli() -> None:
    """Run commands, copies and deployments on many machines at once over SSH."""


def main() -> None:
    """Console entry point of ``shoal``: every error is one line on stderr, no traceback."""
    try:
        status = cli.main(prog_name="shoal", standalone_mode=False)
    except click.UsageError as exc:
        # click's own message, on one line, named after the command that was typed
        where = exc.ctx.command_path if exc.ctx is not None else "shoal"
        message = " ".join(exc.format_message().split())
        click.echo(f"{where}: {message} (see {where} --help)", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"shoal: {' '.join(exc.format_message().split())}", err=True)
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("shoal: interrupted", err=True)
        sys.exit(130)
    except ShoalError as exc:
        # Input errors exit 2 like usage errors, other failures 1; never a traceback.
        click.echo(f"shoal: {exc}", err=True)
        sys.exit(2 if isinstance(exc, INPUT_ERRORS) else 1)
    except BrokenPipeError:
        # The reader went away (| head): stop quietly, as ClusterShell's tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("shoal: interrupted", err=True)
        sys.exit(130)
    sys.exit(status if isinstance(status, int) else 0)
