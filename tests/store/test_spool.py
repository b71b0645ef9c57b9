"""The spool: records come back in the order written, across segments and restarts; when full
it drops its oldest segment and counts what was lost; a line cut by a crash is skipped."""

from __future__ import annotations

from pathlib import Path

from calcifer.store.spool import Spool
from tests.store.test_ledger_writer import numbered_record


def drain(spool: Spool) -> list[str]:
    ids = []
    while (oldest := spool.oldest()) is not None:
        path, records = oldest
        ids += [record.request_id for record in records]
        spool.remove(path)
    return ids


def test_records_come_back_in_the_order_written_across_segments_and_restarts(tmp_path: Path) -> None:
    spool = Spool.claim(tmp_path, max_bytes=10 * 2**20)
    spool.segment_bytes = 4096  # a few dozen records a segment
    for start in range(0, 600, 50):
        spool.write([numbered_record(n) for n in range(start, start + 50)])
    assert spool.records == 600
    assert len(list(spool.directory.glob("segment-*"))) > 5
    spool.close()

    again = Spool.claim(tmp_path, max_bytes=10 * 2**20)
    assert again.directory == spool.directory and again.records == 600
    path, first = again.oldest() or (None, [])
    again.write([numbered_record(600)])  # joins a newer segment, not the one being replayed
    assert path is not None
    again.remove(path)
    assert [r.request_id for r in first] + drain(again) == [f"req_{n:06d}" for n in range(601)]
    assert again.records == 0


def test_a_full_spool_drops_its_oldest_segment_and_counts_the_loss(tmp_path: Path) -> None:
    spool = Spool.claim(tmp_path, max_bytes=256 * 1024)
    for n in range(3000):
        spool.write([numbered_record(n)])
    on_disk = sum(path.stat().st_size for path in spool.directory.glob("segment-*"))
    assert on_disk <= 256 * 1024
    assert spool.lost_records > 0 and spool.records + spool.lost_records == 3000
    survivors = drain(spool)
    assert survivors == [f"req_{n:06d}" for n in range(spool.lost_records, 3000)]


def test_a_line_cut_short_by_a_crash_is_skipped(tmp_path: Path) -> None:
    spool = Spool.claim(tmp_path, max_bytes=2**20)
    spool.write([numbered_record(1), numbered_record(2)])
    segment = next(spool.directory.glob("segment-*"))
    with segment.open("ab") as file:
        file.write(b'{"request_id":"req_000003","start')
    spool.close()
    assert drain(Spool.claim(tmp_path, max_bytes=2**20)) == ["req_000001", "req_000002"]


def test_each_process_claims_its_own_directory(tmp_path: Path) -> None:
    first, second = Spool.claim(tmp_path, 2**20), Spool.claim(tmp_path, 2**20)
    assert first.directory != second.directory
    first.close()
    assert Spool.claim(tmp_path, 2**20).directory == first.directory
