"""Building a service's pydantic settings from its env plus an env file, with clear errors."""

import os
from typing import TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings

S = TypeVar("S", bound=BaseSettings)


class ConfigurationError(Exception):
    """Settings are missing or invalid; the message names each variable, never a value."""


def load_with_env_file(cls: type[S], env_file_var: str) -> S:
    """Settings from the process env and, when `env_file_var` names one, that file.

    The process env beats the file (pydantic-settings ranks env vars above dotenv).
    """
    env_file = os.environ.get(env_file_var) or None
    try:
        return cls(_env_file=env_file)
    except ValidationError as exc:
        raise ConfigurationError(
            describe_errors(exc, cls.model_config.get("env_prefix", ""))
        ) from None


def describe_errors(exc: ValidationError, prefix: str) -> str:
    """`PREFIX_NAME: message` per setting (values left out: they may be secret)."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        field = str(error["loc"][0]) if error["loc"] else "settings"
        parts.append(f"{prefix}{field.upper()}: {error['msg']}")
    return "; ".join(parts)
