"""What stops a game day step: each error says what was wrong, for the report and the CLI."""


class GamedayError(RuntimeError):
    """A step of the game day could not be done (the lab refused, or did not get there)."""


class NotSteady(GamedayError):
    """The lab did not reach a steady state in time: never inject into a broken lab."""
