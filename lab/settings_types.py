"""Setting types the services share: declared once, validated the same way everywhere."""

from typing import Annotated

from pydantic import AfterValidator, SecretStr


def _postgres(value: SecretStr) -> SecretStr:
    if not value.get_secret_value().startswith("postgresql"):
        raise ValueError("must be a postgresql:// URL")
    return value


# A database URL that names Postgres (any driver); secret, so it is never printed.
PostgresUrl = Annotated[SecretStr, AfterValidator(_postgres)]
