"""The CLI's thread setting: --threads N, or auto (1 for small calls, else the idle cores)."""

import numpy as np
import pytest

from equimol import keys as K
from equimol.cli import threads as T


def test_auto_uses_the_idle_cores_and_one_thread_below_the_models_minimum(monkeypatch):
    import equimol

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    import torch

    monkeypatch.setattr(T.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(T.os, "getloadavg", lambda: (1.2, 0.0, 0.0))
    monkeypatch.setattr(T, "_cgroup_cpus", lambda: None)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 4)  # torch's default: physical cores
    assert T.resolve_threads("auto", 72) == 3  # 4 cores, about one busy
    assert T.resolve_threads("auto", 72, min_edges_per_call=2000) == 1
    assert T.resolve_threads("auto", 5000, min_edges_per_call=2000) == 3
    assert T.min_edges(equimol.build_model("so3krates", n_features=12, n_layers=1)) == 2000
    assert T.min_edges(equimol.build_model("painn", n_features=8, n_interactions=1)) == 0
    assert T.resolve_threads(None, None) == 3  # unknown size: a large call
    monkeypatch.setattr(T.os, "getloadavg", lambda: (7.0, 0.0, 0.0))
    assert T.resolve_threads("auto", 5000) == 1  # every core busy: never below one
    assert T.resolve_threads("2", 72) == 2  # an explicit number wins
    monkeypatch.setattr(T.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    monkeypatch.setattr(T, "_cgroup_cpus", lambda: 2.5)  # a container quota of 2.5 CPUs
    assert T.resolve_threads("auto", 5000) == 2
    monkeypatch.setattr(T, "_cgroup_cpus", lambda: None)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)  # 4 logical CPUs, 2 physical cores
    assert T.resolve_threads("auto", 5000) == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert T.resolve_threads("auto", 5000) is None  # the environment's choice is kept
    for bad in ("0", "-1", "many"):
        with pytest.raises(ValueError, match="--threads must be a positive number or 'auto'"):
            T.resolve_threads(bad, 10)


def test_edges_of_counts_the_full_neighbour_list_times_copies():
    # three atoms on a line 1 Å apart, cutoff 1.5 Å: 2 pairs = 4 directed edges
    s = {K.POSITIONS: np.array([[0.0, 0, 0], [1, 0, 0], [2, 0, 0]]), K.ATOMIC_NUMBERS: np.array([1, 1, 1])}
    assert T.edges_of([s], 1.5) == 4
    assert T.edges_of([s, s], 1.5, copies=8) == 64
