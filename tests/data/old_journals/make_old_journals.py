"""Writes the journals in this folder: real traced runs, killed mid-run, by codetracer as it was before record mappers
had registered names (their journals name each mapper by its ``"package.module:Name"`` path).

Run with the Python of the matching integration env, with codetracer installed at that older commit::

    .tox/integration-miniswe/bin/python tests/data/old_journals/make_old_journals.py mini-swe-agent
    .tox/integration-langchain/bin/python tests/data/old_journals/make_old_journals.py langchain
    .tox/integration-langchain/bin/python tests/data/old_journals/make_old_journals.py langgraph
    .tox/integration-openhands/bin/python tests/data/old_journals/make_old_journals.py openhands

Each agent kills its own process (``kill -9``) in the middle of its run, so the run's journal is left orphaned with
what was recorded until then, as after a crash. The journal's reserved, never-written tail (zeros) is cut off.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
KILL = "kill -9 $PPID"  # the shell's parent is the agent's own process


def mini_swe_agent(work: Path) -> None:
    sys.path.insert(0, str(REPO / "integration" / "mini_swe_agent"))
    import yaml
    from mini_answers import TASK, answer
    from minisweagent.agents.default import DefaultAgent
    from minisweagent.config import get_config_path
    from minisweagent.environments.local import LocalEnvironment
    from minisweagent.models.test_models import DeterministicModel

    import codetracer

    (work / "calc.py").write_text("def mean(values):\n    return sum(values) / (len(values) - 1)\n")
    cfg = yaml.safe_load(get_config_path("mini_textbased").read_text())
    cfg["agent"]["instance_template"] = "{{task}}"  # mini's own names this machine's system (uname)
    model = DeterministicModel(
        outputs=[answer("Let me see the files first.", "ls"),
                 answer("Read the module.", "cat calc.py"),
                 answer("Fix the divisor.", KILL)],
        cost_per_call=0.0,
        observation_template=cfg["model"]["observation_template"],
    )
    env = LocalEnvironment(cwd=str(work), **{k: v for k, v in cfg["environment"].items() if k != "cwd"})
    agent = DefaultAgent(model, env, **cfg["agent"])
    codetracer.trace(agent)
    agent.run(TASK)


def _langchain_agent(kill_on: int) -> object:
    import re  # noqa: F401 - the scripted model module needs nothing else
    import warnings

    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.tools import tool

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from langgraph.prebuilt import create_react_agent

    class Scripted(GenericFakeChatModel):
        def bind_tools(self, tools: object, **kwargs: object) -> Scripted:
            return self

    calls = {"n": 0}

    @tool
    def run_shell(command: str) -> str:
        """Run a shell command."""
        calls["n"] += 1
        if calls["n"] == kill_on:
            os.kill(os.getpid(), 9)
        return {"ls": "calc.py\ntest_calc.py", "cat calc.py": "def add(a, b):\n    return a - b\n"}.get(command, "")

    def turn(text: str, call_id: str, command: str) -> AIMessage:
        return AIMessage(content=text, tool_calls=[{"name": "run_shell", "args": {"command": command},
                                                    "id": call_id, "type": "tool_call"}])

    model = Scripted(messages=iter([turn("List the files.", "call_ls", "ls"),
                                    turn("Read the module.", "call_cat", "cat calc.py"),
                                    turn("Run the tests.", "call_test", "pytest -q")]))
    return create_react_agent(model, [run_shell])


TASK = {"messages": [("user", "add(2, 3) returns -1; fix calc.py.")]}


def langgraph(work: Path) -> None:
    import codetracer

    graph = codetracer.trace(_langchain_agent(kill_on=3))  # a graph with a messages channel: the graph path
    graph.invoke(TASK)


def langchain(work: Path) -> None:
    import codetracer

    codetracer.langchain(graph_path=False)  # every run through the callback handler
    _langchain_agent(kill_on=3).invoke(TASK)


def openhands(work: Path) -> None:
    os.environ.setdefault("OPENHANDS_SUPPRESS_BANNER", "1")
    sys.path.insert(0, str(REPO / "integration" / "openhands"))
    import oh_shell_tool
    from openhands.sdk import Agent, Conversation, Tool
    from openhands.sdk.llm import Message, MessageToolCall, TextContent
    from openhands.sdk.testing import TestLLM

    import codetracer

    def reply(text: str, cid: str, command: str) -> Message:
        call = MessageToolCall(id=cid, name=oh_shell_tool.TOOL_NAME, arguments=json.dumps({"command": command}),
                               origin="completion")
        return Message(role="assistant", content=[TextContent(text=text)], tool_calls=[call])

    script = [reply("Write the module.", "call_write", "printf 'def add(a, b):\\n    return a + b\\n' > calc.py"),
              reply("Check it.", "call_check", "python3 -c 'import calc; print(calc.add(2, 3))'"),
              reply("Run the tests.", "call_kill", KILL)]
    agent = Agent(llm=TestLLM.from_messages(script), tools=[Tool(name="ShellTool")],
                  system_prompt="You are a coding agent with a shell.")  # not the SDK's own long prompt
    conv = Conversation(agent=agent, callbacks=[codetracer.trace(agent)], workspace=str(work / "ws"),
                        persistence_dir=str(work / "conversations"), visualizer=None)
    conv.send_message("Create calc.py with add(a, b) and prove it works.")
    conv.run()


RUNS = {"mini-swe-agent": mini_swe_agent, "langchain": langchain, "langgraph": langgraph, "openhands": openhands}


def main(name: str) -> None:
    if os.environ.get("_OLD_JOURNAL_CHILD"):
        RUNS[name](Path.cwd())
        return
    with tempfile.TemporaryDirectory() as tmp:
        home, work = Path(tmp) / "home", Path(tmp) / "work"
        work.mkdir()
        env = dict(os.environ, CODETRACER_HOME=str(home), CODETRACER_PROJECT="old-journals", _OLD_JOURNAL_CHILD="1",
                   LITELLM_LOCAL_MODEL_COST_MAP="True")
        done = subprocess.run([sys.executable, __file__, name], cwd=work, env=env)
        assert done.returncode == -9, f"the run was expected to be killed, it exited with {done.returncode}"
        # the tracer keeps spare journal files ahead of need: the run's is the one that holds something
        (data,) = [d for d in (p.read_bytes().rstrip(b"\x00") for p in (home / "journal").glob("*.ctj")) if d]
        for secret in (tmp.encode(), str(REPO).encode(), str(Path.home()).encode()):
            assert secret not in data, f"the journal names a path of this machine: {secret!r}"
        (HERE / f"{name}.ctj").write_bytes(data)
        shutil.rmtree(home)
        print(f"{name}.ctj: {len(data)} bytes, {len(data.splitlines())} events")


if __name__ == "__main__":
    main(sys.argv[1])
