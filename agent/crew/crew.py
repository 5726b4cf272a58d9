"""The crew: perception, diagnosis, planning and verification agents, tasks in sequence."""

from crewai import Agent, BaseLLM, Crew, Process, Task
from crewai.tools import BaseTool

from agent.crew import prompts
from agent.model import Perception
from knowledge.retrieval import Match
from knowledge.runbook import Runbook

MAX_ITER = 5  # tool rounds per agent; the evidence is in the prompt already

ROLES = {
    "perception": (
        "Perception analyst",
        "Read the lab's observability evidence and say precisely what is abnormal.",
        "An SRE who trusts metrics, logs and traces over guesses.",
    ),
    "diagnosis": (
        "Diagnostician",
        "Find the most likely faults behind the symptoms, citing evidence and runbooks.",
        "An SRE who knows the lab's runbooks and past incidents.",
    ),
    "planning": (
        "Remediation planner",
        "Plan the smallest safe sequence of catalogue actions that fixes the fault.",
        "An SRE who only ever uses the action server's catalogue and its parameters.",
    ),
    "verification": (
        "Verifier",
        "Make sure every hypothesis and plan is justified, safe and well-formed JSON.",
        "A careful reviewer who refuses anything outside the catalogue.",
    ),
}


def build_crew(
    *,
    llm: BaseLLM,
    tools: dict[str, list[BaseTool]],
    perception: Perception,
    matches: list[Match],
    runbooks: list[Runbook],
    error_note: str | None = None,
) -> Crew:
    """A sequential crew whose last task answers the JSON that parse.py reads."""
    agents = {
        key: Agent(
            role=role,
            goal=goal,
            backstory=backstory,
            llm=llm,
            tools=tools.get(key, []),
            allow_delegation=False,
            max_iter=MAX_ITER,
            verbose=False,
        )
        for key, (role, goal, backstory) in ROLES.items()
    }
    see = Task(
        description=prompts.perception_task(perception),
        expected_output="The abnormal features, services and alerts, in a few lines.",
        agent=agents["perception"],
    )
    diagnose = Task(
        description=prompts.diagnosis_task(matches, runbooks),
        expected_output="Ranked hypotheses with confidence, runbook and citations.",
        agent=agents["diagnosis"],
        context=[see],
    )
    plan = Task(
        description=prompts.planning_task(),
        expected_output="The JSON object with hypotheses and plans.",
        agent=agents["planning"],
        context=[see, diagnose],
    )
    verify = Task(
        description=prompts.verification_task(error_note),
        expected_output="The JSON object with hypotheses and plans, nothing else.",
        agent=agents["verification"],
        context=[see, diagnose, plan],
    )
    return Crew(
        agents=list(agents.values()),
        tasks=[see, diagnose, plan, verify],
        process=Process.sequential,
        verbose=False,
    )
