"""The benchmark harness behind ``scripts/bench/run``: the real bot and the emulator in separate processes.

Layout: ``procs`` starts and stops the two processes, ``sysstat`` reads a process's RSS and CPU from /proc,
``load`` drives joins and samples over the control API, ``figures`` counts results from the emulator's
records (pure), ``scenarios`` composes them, ``plots`` draws the PNGs, ``cli`` is the entry point.
"""
