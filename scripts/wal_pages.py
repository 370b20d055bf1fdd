#!/usr/bin/env python3
"""Counts the pages a copy of triage's write-ahead log holds, per table and index: which parts of
the database each group commit writes (docs/PERFORMANCE.md, session 6).

Usage: scripts/wal_pages.py WAL_COPY DATABASE

Copy `triage.db-wal` while an import runs (the checkpointer restarts the log when it grows long,
so copy it while it is large), then point this at the copy and at the live `triage.db`. Pages are
attributed through SQLite's `dbstat` table of the database; a page the database did not have yet
when this runs is counted as `?new`.
"""

import collections
import sqlite3
import struct
import sys

WAL_HEADER = 32
FRAME_HEADER = 24


def frames(wal):
    """Page numbers of the log's valid frames, and how many of them end a transaction."""
    page_size = struct.unpack(">I", wal[8:12])[0]
    salt = wal[16:24]
    pages, commits = [], 0
    offset = WAL_HEADER
    while offset + FRAME_HEADER + page_size <= len(wal):
        page, size_after_commit = struct.unpack(">II", wal[offset : offset + 8])
        # Frames left over from before the log was restarted carry the previous salt.
        if wal[offset + 8 : offset + 16] != salt:
            break
        pages.append(page)
        commits += 1 if size_after_commit else 0
        offset += FRAME_HEADER + page_size
    return pages, commits


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1], "rb") as file:
        pages, commits = frames(file.read())
    database = sqlite3.connect(f"file:{sys.argv[2]}?mode=ro", uri=True)
    owner = dict((page, name) for name, page in database.execute("SELECT name, pageno FROM dbstat"))
    counts = collections.Counter(owner.get(page, "?new") for page in pages)
    per_commit = max(commits, 1)
    print(f"{len(pages)} pages in {commits} commits, {len(pages) / per_commit:.0f} per commit")
    for name, count in counts.most_common(15):
        print(f"{count / per_commit:8.0f} per commit  {name}")


if __name__ == "__main__":
    main()
