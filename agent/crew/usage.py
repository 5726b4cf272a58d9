"""Token counts per run, from CrewAI's per-LLM counters, priced with the agent's settings."""

from crewai.types.usage_metrics import UsageMetrics

from agent.config import Settings
from agent.model import Usage


def usage_between(before: UsageMetrics, after: UsageMetrics, settings: Settings) -> Usage:
    """The tokens and calls spent between two snapshots of one LLM's counters, with cost."""
    delta = after.delta_since(before)
    return priced(
        prompt_tokens=delta.prompt_tokens,
        completion_tokens=delta.completion_tokens,
        calls=delta.successful_requests,
        settings=settings,
    )


def priced(*, prompt_tokens: int, completion_tokens: int, calls: int, settings: Settings) -> Usage:
    """A Usage with its cost in USD from the per-1k-token prices."""
    cost = (
        prompt_tokens * settings.llm_price_prompt_per_1k
        + completion_tokens * settings.llm_price_completion_per_1k
    ) / 1000.0
    return Usage(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        calls=calls,
        cost_usd=round(cost, 6),
    )


def add(a: Usage, b: Usage) -> Usage:
    """Two attempts' usage together."""
    return Usage(
        prompt_tokens=a.prompt_tokens + b.prompt_tokens,
        completion_tokens=a.completion_tokens + b.completion_tokens,
        calls=a.calls + b.calls,
        cost_usd=round(a.cost_usd + b.cost_usd, 6),
    )
