"""Experiment: run `chatactors serve` with the cyclic GC tuned, to measure what GC costs.

    taskset -c 0 .venv/bin/python benchmarks/serve_gc_tuned.py serve --port 0 --store memory

Not a server change: the same server, started after `gc.freeze()` (objects alive at start-up are
never scanned again) and with a first-generation threshold of 50,000 allocations instead of 700
(so full collections, which walk every live object, run far less often as sockets accumulate).
"""

from __future__ import annotations

import gc
import sys

from chatactors.cli import main

if __name__ == "__main__":
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    sys.exit(main(sys.argv[1:]))
