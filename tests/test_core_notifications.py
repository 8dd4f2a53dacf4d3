"""The notification worker's clock: when a delayed e-mail is tried again, when the daily digest goes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.dates import PARIS
from core.notifications import next_digest_time, retry_delay


def test_a_dead_server_is_tried_again_ever_later_but_at_least_hourly():
    assert [retry_delay(n) for n in (1, 2, 3)] == [timedelta(seconds=30), timedelta(minutes=1), timedelta(minutes=2)]
    assert retry_delay(7) == timedelta(minutes=32)
    assert retry_delay(8) == timedelta(hours=1)  # 64 minutes, capped
    assert retry_delay(500) == timedelta(hours=1)


def test_the_digest_goes_at_the_next_hour_chosen_paris_time():
    before = datetime(2026, 11, 30, 6, 59, tzinfo=PARIS)
    assert next_digest_time(before, 8) == datetime(2026, 11, 30, 8, 0, tzinfo=PARIS)
    after = datetime(2026, 11, 30, 8, 0, tzinfo=PARIS)
    assert next_digest_time(after, 8) == datetime(2026, 12, 1, 8, 0, tzinfo=PARIS)
    # Stored in UTC (SQLite hands it back naive), across the change to summer time.
    naive_utc = datetime(2027, 3, 27, 20, 0)
    assert next_digest_time(naive_utc, 8) == datetime(2027, 3, 28, 8, 0, tzinfo=PARIS)
    assert next_digest_time(naive_utc, 8).astimezone(UTC).hour == 6


def test_the_digest_time_is_a_utc_moment():
    """SQLite stores a moment's wall-clock time without its offset: 08:00 Paris kept as Paris time read as
    08:00 UTC, and a digest asked for at 08:40 Paris waited for 09:00 Paris the next day."""
    moment = next_digest_time(datetime(2026, 12, 5, 7, 40, tzinfo=UTC), 8)
    assert moment.utcoffset() == timedelta(0)
    assert moment == datetime(2026, 12, 6, 7, 0, tzinfo=UTC)
