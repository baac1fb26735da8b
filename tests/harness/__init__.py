"""How the tests run a server: one way for each kind, all in this package.

- **In memory, no server** (``tests/web``, ``tests/media``): Quart-Trio's own test app,
  ``async with create_app(settings, store=...).test_app() as test_app``, with its lifespan
  running; HTTP through ``test_app.test_client()``, WebSockets through
  ``asgi_socket.open_socket(app, path)`` (ASGI events through memory channels, as Hypercorn
  sends them). Nothing listens, so the mock clock works and a test may give the app a store of
  its own.
- **In process, on a real socket**: ``served_app(served_settings(tmp_path, **overrides))`` serves
  the production app as ``chatactors serve`` does (``chatactors.serve.serve_app``: a real
  Hypercorn on 127.0.0.1, port 0) and yields a ``ServedApp``: its URLs, an httpx client, its
  running services (for tests that look inside), ``stop()`` as SIGTERM would. Real clock.
- **As a process**: ``server_process(*args, **options)`` (``with``, for sync tests such as
  Playwright's) or ``open_server_process`` (``async with``, for Trio tests) runs ``python -m
  chatactors serve`` on 127.0.0.1, port 0, read from its ``Serving on`` line; its output is kept
  and shown when the test fails, and it gets SIGTERM, then SIGKILL, at the end. For what needs a
  real process: signals, SIGKILL and restarts, descriptor limits, several nodes, a browser.
  ``serve_command`` is its command line (for a start that must fail, through ``subprocess.run``).

Clients: ``clients`` (``open_socket``, ``next_event``, ``wait_closed``, ``metric``),
``user_client`` (``/ws``), ``chat_client`` (a chat's socket over ``chatactors.v1``). Every wait
for a server is bounded: ``clients.WAIT_S``, and ``server_process.START_S``/``STOP_S`` for a
process's start and stop.

Waiting: for a frame, a line the process prints or a ``trio.Event``, wait on that. For a state
nothing signals (another process's descriptors or ``/metrics``, a file it writes, another task's
statistics), ``waiting.wait_until`` (sync) or ``waiting.wait_until_async`` (Trio), with a
generous bound and the name of what is awaited. A real-time sleep is left only where time
passing is the point (a paced client, showing that nothing happens meanwhile), with a comment
that says so; in unit tests, whatever waits does so on the mock clock (``autojump_clock``).
"""
