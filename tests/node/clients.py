"""Running the suite's Node scripts: node and the locked packages (`make install` runs `npm ci` here).

With CI=true a missing node or missing packages fail the tests, as a missing browser does; elsewhere they skip.
The cases run in one long-lived `node runner.mjs` per pytest process: starting node and importing the SDKs
costs ~0.5 s of CPU, which paid per case was most of the suite's time.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from collections import deque
from pathlib import Path
from typing import IO, Any

import pytest

HERE = Path(__file__).parent
_PACKAGES = ("openai", "ai", "@ai-sdk/openai", "@ai-sdk/anthropic", "@ai-sdk/google", "zod")
_TIMEOUT = 60.0
_REPLY_PREFIX = "relaygate-runner-reply "  # runner.mjs's PREFIX
_ENV_PARAMS = {"PROVIDER": "provider"}  # the env names callers pass, as the runner's request fields


def require_node() -> str:
    node = shutil.which("node")
    missing = [name for name in _PACKAGES if not (HERE / "node_modules" / name / "package.json").is_file()]
    if node and not missing:
        return node
    message = (
        "node (20 or later) is not installed"
        if not node
        else f"npm packages missing in tests/node: {', '.join(missing)}"
    )
    message += " (make install runs `npm ci` in tests/node)"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " and CI=true")
    pytest.skip(message)


class RunnerError(Exception):
    """The runner gave no reply to a request: it timed out, died or could not be written to."""


class _Runner:
    """One `node runner.mjs` process, asked one case at a time over its stdin and stdout (see runner.mjs).

    Threads drain stdout (into a queue, so a reply can be awaited with a timeout) and stderr (into a bounded
    tail, for failure messages), so neither pipe can fill up and block node.
    """

    def __init__(self, node: str) -> None:
        self._process = subprocess.Popen(
            [node, str(HERE / "runner.mjs")],
            cwd=HERE,
            env={"PATH": os.environ.get("PATH", ""), "NO_PROXY": "127.0.0.1,localhost"},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self._ids = itertools.count(1)
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._tail: deque[str] = deque(maxlen=40)
        self._readers = [
            threading.Thread(target=self._read_stdout, args=(self._process.stdout,), daemon=True),
            threading.Thread(target=self._tail.extend, args=(self._process.stderr,), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self, stdout: IO[str]) -> None:
        """Queue each stdout line for ask(); None at the end tells a waiting ask() that node is gone."""
        for line in stdout:
            self._lines.put(line)
        self._lines.put(None)

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send REQUEST under a fresh id and return the reply carrying that id, within _TIMEOUT seconds."""
        request_id = next(self._ids)
        stdin = self._process.stdin
        assert stdin is not None
        try:
            stdin.write(json.dumps({"id": request_id, **request}) + "\n")
            stdin.flush()
        except OSError as error:
            raise RunnerError(f"cannot write to the runner: {error}") from error
        deadline = time.monotonic() + _TIMEOUT
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise RunnerError(f"no reply within {_TIMEOUT:.0f} s") from None
            if line is None:
                raise RunnerError("the runner exited")
            reply = self._reply(line, request_id)
            if reply is not None:
                return reply

    def _reply(self, line: str, request_id: int) -> dict[str, Any] | None:
        """LINE's reply if it is the runner's answer to REQUEST_ID; other output (SDK noise) goes to the tail."""
        if line.startswith(_REPLY_PREFIX):
            message = json.loads(line.removeprefix(_REPLY_PREFIX))
            if message["id"] == request_id:
                return dict(message["reply"])
        self._tail.append("stdout: " + line)
        return None

    def stop(self) -> str:
        """Kill node, reap it and its pipes' readers; returns how it ended and its output's tail, for messages."""
        self._process.kill()
        code = self._process.wait()
        for reader in self._readers:
            reader.join(timeout=5)
        for stream in (self._process.stdout, self._process.stderr, self._process.stdin):
            with contextlib.suppress(BrokenPipeError):  # stdin's close flushes what a dead node did not read
                if stream is not None:
                    stream.close()
        return f"runner exit code {code}; its stderr (and stray stdout) tail:\n{''.join(self._tail)[-2000:]}"


_runner: _Runner | None = None


def _the_runner(node: str) -> _Runner:
    """This pytest process's runner, started on first use or after a failure stopped the previous one."""
    global _runner
    if _runner is None:
        _runner = _Runner(node)
    return _runner


@atexit.register
def _stop_runner() -> str:
    """Stop the runner (at exit, or after a failure so the next test starts a fresh one)."""
    global _runner
    runner, _runner = _runner, None
    return runner.stop() if runner is not None else ""


def run_script(script: str, *, base_url: str, key: str, model: str, case: str, **env: str) -> dict[str, Any]:
    """Run tests/node/SCRIPT for one case against the gateway; returns the JSON object the script answers.

    ENV holds the variables a script reads when run by hand (PROVIDER), passed to the runner as fields.
    """
    node = require_node()
    unknown = env.keys() - _ENV_PARAMS.keys()
    assert not unknown, f"run_script: no runner field for {sorted(unknown)}"
    request = {"script": script, "baseURL": base_url, "apiKey": key, "model": model, "case": case}
    request |= {_ENV_PARAMS[name]: value for name, value in env.items()}
    try:
        return _the_runner(node).ask(request)
    except RunnerError as error:
        pytest.fail(f"{script} {case}: {error}; {_stop_runner()}")
