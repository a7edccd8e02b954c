"""The localcode agent as a solver: one try = one ``Agent.run`` in the exercise's workspace.

The agent's ``shell`` tool runs in a sandbox opened on the workspace (never on the host), test
and build files are read-only to its file tools, and reference material is refused outright.
Try 2 continues try 1's session (saved per exercise, not globally). Every request of the worker
goes to its own slot of the server (``slot``: ``id_slot``), so an exercise's turns, and its try 2,
find their history in that slot's prompt cache. ``--agent-timeout`` counts working time: the
client's deadline is a working one (:class:`agent.client.HttpChatClient`), so a request queued
behind other workers' does not end the try. ``live`` records each try's turns and responses for
the controller's live view and health checks (:mod:`pytest_localcode.live`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

from agent import Agent, AgentConfig, AgentLimits, HttpChatClient
from agent.client import chat_template_of, context_of, props_of
from agent.config import declared_syntax
from pytest_localcode.grading import language_exports
from pytest_localcode.live import LiveLog
from pytest_localcode.sandbox.base import ExecResult, Sandbox, SandboxFactory
from pytest_localcode.server.base import health_status
from pytest_localcode.solvers import Attempt, TryContext

# Reference material a solver must not see; the workspace never contains it, and asking for it
# by these names is refused and counted (see the report's "refused access" column).
DENY = (".meta/**", ".docs/**", ".approaches/**", ".articles/**", "**/example*", "**/proof.ci.js", "**/.meta/**")


class ServerLost(Exception):
    """The model server stopped answering during a try (the item is retried once it is back)."""


def server_healthy(base_url: str, timeout: float = 5.0) -> bool:
    return health_status(base_url, timeout) == 200


class LanguageShell:
    """The agent's ``shell`` (a CommandRunner): the item's sandbox with the language's environment
    exported first, so ``cargo test`` or ``go test`` typed by the model behaves as in grading."""

    def __init__(self, sandbox: Sandbox, prefix: str):
        self.sandbox = sandbox
        self.kind = sandbox.kind
        self.workdir = sandbox.workdir
        self.prefix = prefix

    def exec(self, command: str | Sequence[str], *, timeout: float, env: Mapping[str, str] | None = None,
             cwd: str | None = None) -> ExecResult:
        if isinstance(command, str):
            command = self.prefix + command
        return self.sandbox.exec(command, timeout=timeout, env=env, cwd=cwd)

    def close(self) -> None:
        self.sandbox.close()


class AgentSolver:
    deterministic = False

    def __init__(self, cfg: AgentConfig, base_url: str, sandboxes: SandboxFactory, worker: str, limits: AgentLimits,
                 model_name: str | None = None, owned_server: bool = True, slot: int | None = None,
                 server_index: int = 0, live: LiveLog | None = None):
        self.cfg = cfg
        self.name = cfg.name
        self.base_url = base_url
        self.sandboxes = sandboxes
        self.worker = worker
        self.limits = limits
        self.model_name = model_name
        self.owned_server = owned_server  # only a server we started is health-checked and restarted
        self.slot, self.server_index, self.live = slot, server_index, live
        self.client = HttpChatClient(base_url, working_deadline=True)
        self._server: tuple[int | None, str] | None = None  # (context_window, chat_template), read once

    def retarget(self, base_url: str, owned_server: bool, slot: int | None = None, server_index: int = 0) -> None:
        """Use another model server from the next try on (the worker's server is gone for good)."""
        self.client.close()
        self.base_url, self.owned_server, self.slot, self.server_index = base_url, owned_server, slot, server_index
        self.client = HttpChatClient(base_url, working_deadline=True)
        self._server = None

    def server_facts(self) -> tuple[int | None, str]:
        """From one ``/props`` read per server: its per-slot context (else the config's declared
        window) and its chat template, for the agent to tell the model's tool-call syntax by ("" when
        the config names the syntax or the server does not say)."""
        if self._server is None:
            props = props_of(self.client)
            declared = (self.cfg.server_config or {}).get("context_window")
            template = "" if declared_syntax(self.cfg) else chat_template_of(props) or ""
            self._server = (context_of(props) or int(declared or 0) or None, template)
        return self._server

    def open_shell(self, ctx: TryContext) -> LanguageShell:
        """A sandbox on the workspace with a private build cache (``shell-cache`` in the item's run
        directory): nothing another exercise built, nor the grader's cache, is visible to the agent."""
        scratch: Path = ctx.item_dir / "shell-cache"
        sandbox = self.sandboxes.open(ctx.workspace, name=ctx.exercise.slug, worker=self.worker, scratch=scratch)
        values = {"slug": ctx.exercise.slug, "workdir": sandbox.workdir, "worker": self.worker, "test_files": ""}
        return LanguageShell(sandbox, language_exports(ctx.conf, values))

    def attempt(self, ctx: TryContext) -> Attempt:
        runner = self.open_shell(ctx)
        cfg = self.cfg if ctx.seed is None else dataclasses.replace(self.cfg, seed=ctx.seed)
        name = ctx.exercise.name if ctx.epoch == 1 else f"{ctx.exercise.name}[{ctx.epoch}]"
        on_event = None
        if self.live is not None:
            self.live.write("try", ex=name, tr=ctx.number, srv=self.server_index)
            on_event = self.live.agent_events(name, ctx.number, self.server_index)
        try:
            agent = Agent(
                cfg,
                client=self.client,
                workspace=ctx.workspace,
                runner=runner,
                read_only=ctx.read_only,
                deny=DENY,
                log_dir=ctx.item_dir / "logs",
                session_file=ctx.item_dir / "session.json",
                limits=self.limits,
                context_window=self.server_facts()[0],
                chat_template=self.server_facts()[1],
                model_name=self.model_name,
                prompt_overlay=ctx.exercise.name,
                slot=self.slot,
                on_event=on_event,
            )
            result = agent.run(ctx.prompt, continue_session=ctx.number > 1)
        finally:
            runner.close()
            if self.live is not None:
                self.live.write("tests", ex=name, tr=ctx.number)
        error = None
        if result.stop_reason == "error":
            if self.owned_server and not server_healthy(self.base_url):
                raise ServerLost(f"model server at {self.base_url} stopped answering: {result.error}")
            error = f"{ctx.exercise.name} try {ctx.number}: {result.error}"
        return Attempt(
            stop_reason=result.stop_reason,
            metrics=result.metrics,
            refused_paths=list(result.refused_paths),
            transcript=list(result.messages),
            error=error,
        )
