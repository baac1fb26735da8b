"""The ``chatactors`` command: ``serve`` (the default) and ``bench``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from chatactors.logs import configure_logging
from chatactors.settings import Settings, SettingsError, help_formatter


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "bench":
        try:
            from chatactors.bench.cli import main as bench_main
        except ImportError as error:
            # The server is installed without the load generator's clients (the Docker image).
            print(
                f"chatactors bench needs the bench extra: pip install 'chatactors[bench]' ({error})"
            )
            return 2
        return bench_main(args[1:])
    if args and args[0] == "token":
        return _token(args[1:])
    if args and args[0] == "serve":
        args = args[1:]
    parser = argparse.ArgumentParser(
        prog="chatactors serve",
        usage="chatactors serve [options]",
        formatter_class=help_formatter,
        description="Serve the chat API, its WebSocket and the web client. Every flag can also "
        "be set as CHATACTORS_<NAME> in the environment.",
    )
    Settings.add_arguments(parser)
    try:
        settings = Settings.from_args(parser.parse_args(args))
    except SettingsError as error:
        parser.error(str(error))
    configure_logging(settings.log_level, json=settings.log_json)
    if settings.workers > 1:
        from chatactors.workers import run_workers

        return run_workers(settings, args)
    from chatactors.serve import run

    return run(settings)


def _token(args: list[str]) -> int:
    """``chatactors token USER``: print a bearer token for USER, signed with the server secret."""
    parser = argparse.ArgumentParser(
        prog="chatactors token",
        description="Print a bearer token for a user (access control on). The secret comes "
        "from --auth-secret or CHATACTORS_AUTH_SECRET, as for the server.",
    )
    parser.add_argument("user_id")
    Settings.add_arguments(parser)
    parsed = parser.parse_args(args)
    settings = Settings.from_args(parsed)
    if len(settings.auth_secret) < 32:
        parser.error("set an auth secret of at least 32 characters (CHATACTORS_AUTH_SECRET)")
    from chatactors.web.auth import issue_token

    print(issue_token(settings.auth_secret, parsed.user_id, ttl_s=settings.auth_token_ttl_s))
    return 0
