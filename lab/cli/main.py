"""The `breakfix` command line."""

import typer

from lab.cli import lab_commands

app = typer.Typer(
    name="breakfix",
    help="Breakfix: a chaos lab with an autonomous SRE agent.",
    no_args_is_help=True,
    add_completion=False,
)
lab_commands.register(app)
