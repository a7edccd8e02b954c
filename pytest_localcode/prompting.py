"""The task prompts the harness gives a solver: try 1 (the exercise) and try 2 (the failures)."""

from __future__ import annotations

from pytest_localcode.exercises import Exercise

RULES = (
    "Modify the supplied solution files to solve the exercise. "
    "Keep the names of existing functions, classes and methods: the tests call them. "
    "Use only the language's standard library; do not add dependencies. "
    "The test files are read-only and the tests are run for you after you finish."
)


def first_prompt(ex: Exercise, read_only: frozenset[str]) -> str:
    solution = ", ".join(ex.solution)
    tests = ", ".join(sorted(f for f in read_only if f in ex.test)) or ", ".join(ex.test)
    return (
        f"# Exercise: {ex.slug} ({ex.language})\n\n"
        f"{ex.instructions()}\n\n"
        f"## Your task\n\n"
        f"Files to change: {solution}\n"
        f"Tests (read-only): {tests}\n\n"
        f"{RULES}\n"
    )


def retry_prompt(ex: Exercise, test_output: str) -> str:
    solution = ", ".join(ex.solution)
    return (
        f"{test_output}\n\n"
        "See the test errors above. The tests are correct, do not try to change them. "
        f"Fix the code in {solution} to resolve the errors.\n"
    )
