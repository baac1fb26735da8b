"""Command-line validation: refused before any traffic is sent."""

import importlib.util

import pytest

from chatactors.bench import cli


def test_refuses_a_non_http_url(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["fanout", "--url", "https://example.com"])
    assert exc.value.code == 2
    assert "only http://" in capsys.readouterr().err


def test_idle_needs_the_server_pid(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["idle", "--url", "http://127.0.0.1:9"])
    assert "--server-pid" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["fanout", "--rate", "0"], ["http", "--ops", "get,delete"]])
def test_rejects_bad_values(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(argv)


def test_plot_without_matplotlib_fails_before_running(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name)
    )
    # Port 9 (discard) is never contacted: the check comes first.
    status = cli.main(["http", "--url", "http://127.0.0.1:9", "--plot", "x.png"])
    assert status == 2
    assert "needs matplotlib" in capsys.readouterr().err


def test_defaults() -> None:
    args = cli.build_parser().parse_args(["fanout"])
    assert (args.url, args.chats, args.subscribers, args.rate) == (cli.DEFAULT_URL, 100, 5, 1000.0)
    assert args.workers == 1
    assert not args.subprotocol
