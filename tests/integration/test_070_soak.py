"""The short soak (`make soak` runs the long one): create/delete cycles mixed
with bad requests leave the pool whole, no process, no map entry, and no fd
or memory growth in the session daemon or Apache's children."""
import os

import pytest

import apache_harness as H
import soak
from conftest import procs_mentioning, wait_until

CYCLES = int(os.environ.get("PVL_SHORT_SOAK_CYCLES", "1000"))


@pytest.mark.parametrize("mpm", os.environ.get("PVL_MPMS", "event prefork").split())
def test_short_soak(mpm):
    a = soak.start_apache(mpm)
    try:
        fig = soak.run_soak(a, CYCLES)
        print(soak.describe(a, fig))
        assert fig["cycles"] == CYCLES
    finally:
        a.stop()
    assert wait_until(lambda: not procs_mentioning(a.tmp), timeout=5), procs_mentioning(a.tmp)
    assert a.unexpected_log_lines() == []
    assert H.sanitizer_reports() == []
