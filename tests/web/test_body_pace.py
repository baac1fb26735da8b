"""BodyPace: the deadline a body must meet, pushed back by each byte after the grace."""

from __future__ import annotations

import math

from chatactors.settings import Settings
from chatactors.web.body_pace import BodyPace


def test_a_total_deadline_alone_does_not_move() -> None:
    pace = BodyPace(timeout_s=60.0)
    assert pace.deadline(100.0, 0) == pace.deadline(100.0, 10**9) == 160.0
    assert BodyPace(timeout_s=None).deadline(100.0, 0) == math.inf


def test_each_byte_buys_time_past_the_grace_up_to_the_total_deadline() -> None:
    pace = BodyPace(timeout_s=1800.0, grace_s=60.0, min_bytes_per_s=4096)
    assert pace.deadline(0.0, 0) == 60.0  # a trickle: cut off at the end of the grace
    assert pace.deadline(0.0, 4096 * 100) == 160.0
    assert pace.deadline(0.0, 4096 * 10_000) == 1800.0
    # A stall is fine while the bytes before it cover it: 1 MiB at once buys 256 s.
    assert pace.deadline(0.0, 1024 * 1024) == 60.0 + 256.0


def test_the_defaults_let_the_largest_upload_through_a_slow_mobile_link() -> None:
    settings = Settings()
    pace = BodyPace.of_uploads(settings)
    largest = max(settings.max_image_bytes, settings.max_audio_bytes)
    at_128_kbit_s = 16 * 1024
    seconds = largest / at_128_kbit_s  # 1,600 s
    # At every moment of such an upload, the bytes sent so far keep it ahead of its deadline.
    for elapsed in range(0, math.ceil(seconds) + 1, 10):
        sent = min(largest, elapsed * at_128_kbit_s)
        assert elapsed < pace.deadline(0.0, sent)
    assert seconds < pace.deadline(0.0, largest)
    assert BodyPace.of_bodies(settings) == BodyPace(timeout_s=60.0)


def test_zero_means_no_limit() -> None:
    settings = Settings(upload_timeout_s=0, upload_min_bytes_per_s=0, body_timeout_s=0)
    assert BodyPace.of_uploads(settings).deadline(0.0, 0) == math.inf
    assert BodyPace.of_bodies(settings).deadline(0.0, 0) == math.inf
    assert BodyPace.of_uploads(settings).describe() == "no limit"


def test_the_rule_is_described_for_the_408() -> None:
    pace = BodyPace(timeout_s=1800.0, grace_s=60.0, min_bytes_per_s=4096)
    assert pace.describe() == "at least 4096 bytes/s on average after 60 s, whole within 1800 s"
