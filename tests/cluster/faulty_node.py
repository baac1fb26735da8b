"""``chatactors serve`` with a fault the test injects: once the file named by the environment's
``FAULT_FILE`` exists, a task of the node's services raises (a bug nothing contains), so that
the services stop while the process serves. Tests only (test_services_failure.py).

Run from the project's root as the ``wrapper`` of ``serve_command``
(``python -m tests.cluster.faulty_node``, so that it imports ``tests.harness``): its arguments
are the server's own command line (``python -m chatactors serve ...``).
"""

from __future__ import annotations

import math
import os
import sys

import trio

from chatactors.cli import main
from chatactors.cluster.remote_subscribers import RemoteSubscribers
from tests.harness.waiting import wait_until_async


async def _fail_once_asked(self: RemoteSubscribers) -> None:
    trigger = trio.Path(os.environ["FAULT_FILE"])
    # A file the test creates: no event. The test bounds its own wait.
    await wait_until_async(trigger.exists, math.inf, "the fault file created")
    raise RuntimeError("a fault injected by the test")


if __name__ == "__main__":
    command = sys.argv[1:]
    if command[1:4] != ["-m", "chatactors", "serve"]:
        sys.exit(f"usage: faulty_node.py python -m chatactors serve ...: not {command[:4]}")
    RemoteSubscribers.run = _fail_once_asked  # type: ignore[method-assign]
    sys.exit(main(command[3:]))
