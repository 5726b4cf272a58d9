"""The `breakfix` command line."""

import typer

from breakfix.cli import (
    act_command,
    catalogue_command,
    chaos_commands,
    gameday_commands,
    lab_commands,
    service_commands,
    validate_command,
)
from breakfix.cli.incidents_commands import incidents_app
from breakfix.cli.keys_commands import keys_app
from breakfix.cli.mcp_commands import mcp_app
from breakfix.cli.scenario_commands import chaos_app

app = typer.Typer(
    name="breakfix",
    help="Breakfix: a chaos lab with an autonomous SRE agent.",
    no_args_is_help=True,
    add_completion=False,
)
lab_commands.register(app)
service_commands.register(app)
app.add_typer(keys_app, name="keys")
act_command.register(app)
chaos_commands.register(app)
app.add_typer(chaos_app, name="chaos")
app.add_typer(incidents_app, name="incidents")
app.add_typer(mcp_app, name="mcp")
validate_command.register(app)
gameday_commands.register(app)
catalogue_command.register(app)
