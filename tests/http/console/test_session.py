"""Console sessions: a signed expiry that every worker checks alike, a CSRF token per session,
and nothing accepted that this gateway's secret and master key did not sign."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from calcifer.errors import InvalidRequest
from calcifer.http.admin.stats import stats_query
from calcifer.http.console.session import SessionSigner

SECRET, MASTER, NOW = b"s" * 32, "master-key", 1_800_000_000.0


def test_a_session_is_accepted_by_any_signer_with_the_same_secret_and_master_key_until_it_expires() -> None:
    cookie, session = SessionSigner(SECRET, MASTER).issue(60, now=NOW)
    other_worker = SessionSigner(SECRET, MASTER)
    assert other_worker.session(cookie, now=NOW + 59) == session
    assert other_worker.session(cookie, now=NOW + 60) is None
    assert MASTER not in cookie


def test_a_new_master_key_or_secret_ends_every_session() -> None:
    cookie, _ = SessionSigner(SECRET, MASTER).issue(60, now=NOW)
    assert SessionSigner(SECRET, "rotated").session(cookie, now=NOW) is None
    assert SessionSigner(b"t" * 32, MASTER).session(cookie, now=NOW) is None


@pytest.mark.parametrize("cookie", ["", "garbage", "1.2.3", "a.b.c.d", None])
def test_anything_else_is_no_session(cookie: str | None) -> None:
    assert SessionSigner(SECRET, MASTER).session(cookie, now=NOW) is None


def test_each_session_has_its_own_csrf_token() -> None:
    signer = SessionSigner(SECRET, MASTER)
    (_, first), (_, second) = signer.issue(60, now=NOW), signer.issue(60, now=NOW)
    assert first.csrf_token != second.csrf_token and len(first.csrf_token) >= 40


def test_overview_windows_end_with_the_bucket_holding_now_aligned_on_whole_buckets() -> None:
    now = datetime(2026, 12, 1, 19, 47, 12, tzinfo=UTC)
    day = stats_query("day", now)
    assert (day.buckets, day.bucket_seconds) == (24, 3600)
    assert day.since == datetime(2026, 11, 30, 20, 0, tzinfo=UTC)
    assert day.since + timedelta(hours=24) > now >= day.since + timedelta(hours=23)
    assert stats_query("hour", now).since == datetime(2026, 12, 1, 18, 50, tzinfo=UTC)
    assert stats_query("week", now).since == datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
    with pytest.raises(InvalidRequest):
        stats_query("month", now)
