from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from oracle.store.engine import make_engine
from oracle.store.leader import LeaderLock

HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from oracle.store.leader import LeaderLock
    from oracle.store.engine import make_engine
    lock = LeaderLock(make_engine(sys.argv[1]), Path(sys.argv[2]))
    print("leader" if lock.try_acquire() else "standby", flush=True)
    time.sleep(600)
""")


def test_one_leader_and_takeover_when_it_dies(db_url: str, tmp_path: Path) -> None:
    leader = subprocess.Popen([sys.executable, "-c", HOLDER, db_url, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert leader.stdout is not None
        assert leader.stdout.readline().strip() == "leader"
        standby = LeaderLock(make_engine(db_url), tmp_path)
        assert not standby.try_acquire() and not standby.held
        leader.kill()  # like kill -9: no chance to release
        leader.wait(timeout=30)
        deadline = time.monotonic() + 30
        while not standby.try_acquire():
            assert time.monotonic() < deadline, "standby never took over"
            time.sleep(0.2)
        assert standby.held
        standby.release()
        assert not standby.held
    finally:
        leader.kill()


@pytest.mark.postgres
def test_a_leader_whose_connection_the_server_ended_steps_down(pg_schema: str,
                                                               tmp_path: Path) -> None:
    """The server ends the leader's lock connection: a standby takes over and the old leader
    does not go on believing it leads (two daemons must never both submit)."""
    url = pg_schema  # the fixture yields the schema's URL
    first = LeaderLock(make_engine(url), tmp_path)
    second = LeaderLock(make_engine(url), tmp_path)
    assert first.try_acquire() and not second.try_acquire()
    assert first.try_acquire()  # still ours: asking again keeps it
    pid = first._conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    first._conn.commit()
    admin = make_engine(url)
    with admin.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar_one()
        conn.commit()
    deadline = time.monotonic() + 30
    while not second.try_acquire():
        assert time.monotonic() < deadline, "the standby never took over"
        time.sleep(0.1)
    assert not first.try_acquire() and not first.held
    second.release()
    assert first.try_acquire() and first.held  # free again: the old leader may lead anew
    first.release()
