"""The harness that runs `isolated` tests in recycled child processes (tests/isolation.py)."""

import multiprocessing

import numpy as np

import isolation


def test_a_new_child_measures_its_own_peak_memory_not_its_parents():
    """A child spawned by a process holding 800 MB starts far below the recycling limit (a
    peak that counted the parent's memory at the fork recycled every child after one test)."""
    held = np.ones(100 * 2**20)  # 800 MB, resident
    parent = isolation.peak_mb()
    assert parent > 800
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        child = pool.apply(isolation.peak_mb)
    assert child < parent - 600, (child, parent)
    del held
