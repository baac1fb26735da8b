"""The ``chatactors`` command: ``serve`` (the default) and ``bench``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from functools import partial

from chatactors.logs import configure_logging
from chatactors.memory import exec_with_allocator
from chatactors.settings import Settings, SettingsError
from chatactors.settings_parsing import add_flags, help_formatter, read_settings


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
    add_flags(parser)
    try:
        settings = read_settings(parser.parse_args(args))
    except SettingsError as error:
        parser.error(str(error))
    if argv is None:  # the command itself, not a call from code (tests)
        exec_with_allocator(settings.memory_allocator, ["serve", *args])
    configure_logging(settings.log_level, json=settings.log_json)
    if settings.redis_url and (refusal := _redis_refusal(settings)) is not None:
        print(f"chatactors serve: {refusal}", file=sys.stderr)
        return 1
    if settings.workers > 1:
        from chatactors.workers import run_workers

        return run_workers(settings, args)
    from chatactors.serve import run

    return run(settings)


#: How long serving waits for Redis to answer before it gives up starting in cluster mode.
_REDIS_CHECK_TIMEOUT_S = 5.0


def _redis_refusal(settings: Settings) -> str | None:
    """Why cluster mode cannot start (Redis unreachable or refusing, its TLS certificate not
    trusted), or None: said in one line, before anything is served, instead of a failed
    start-up's traceback."""
    import trio

    from chatactors.cluster.node import redis_tls
    from chatactors.cluster.redis import (
        RedisAddress,
        RedisRefused,
        RedisReplyError,
        RedisTlsRejected,
        RedisUnavailable,
        check_reachable,
    )

    try:
        address = RedisAddress.from_url(settings.redis_url)
    except ValueError as error:
        return str(error)
    where = f"Redis at {address.where}"  # not the URL: it may hold a password
    check = partial(
        check_reachable,
        settings.redis_url,
        timeout_s=max(_REDIS_CHECK_TIMEOUT_S, settings.redis_timeout_s),
        tls=redis_tls(settings),
    )
    try:
        trio.run(check)
    except OSError as error:  # a TLS file missing or not PEM (ssl.SSLError is an OSError)
        return (
            f"the Redis TLS files cannot be used ({error}): fix --redis-ca-file/--redis-cert-file"
        )
    except RedisUnavailable as error:
        cause = error.__cause__
        if isinstance(cause, RedisTlsRejected):
            return (
                f"{where} failed TLS verification ({cause.reason}): check --redis-ca-file "
                "and that the URL names the host its certificate is for"
            )
        if isinstance(cause, RedisRefused):
            return f"{where} refused this node ({cause.reason}): fix the URL"
        return f"{where} is unreachable ({cause or 'no answer in time'}): start it, or fix the URL"
    except RedisReplyError as error:
        return f"{where} refused this node ({error}): fix the URL"
    return None


def _token(args: list[str]) -> int:
    """``chatactors token USER``: print a bearer token for USER, signed with the server secret."""
    parser = argparse.ArgumentParser(
        prog="chatactors token",
        description="Print a bearer token for a user (access control on). The secret comes "
        "from --auth-secret or CHATACTORS_AUTH_SECRET, as for the server.",
    )
    parser.add_argument("user_id")
    add_flags(parser)
    parsed = parser.parse_args(args)
    try:
        settings = read_settings(parsed)
    except SettingsError as error:
        parser.error(str(error))
    if len(settings.auth_secret) < 32:
        parser.error("set an auth secret of at least 32 characters (CHATACTORS_AUTH_SECRET)")
    from chatactors.web.auth import issue_token

    print(issue_token(settings.auth_secret, parsed.user_id, ttl_s=settings.auth_token_ttl_s))
    return 0
