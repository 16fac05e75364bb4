"""The cluster suite's shared fixture: the project's 3-node Galera cluster (make galera),
and which of its tests run. MH_CLUSTER_TESTS unset: none; "1" (make cluster-test): all;
"ci" (make test): those marked cluster_ci, the part that fits CI's time."""
from __future__ import annotations

import os
from typing import List

import pytest

from testkit.galera import Cluster, ClusterError

MODE = os.environ.get("MH_CLUSTER_TESTS", "")


def pytest_collection_modifyitems(items: List[pytest.Item]) -> None:
    for item in items:
        if "cluster" not in item.keywords or MODE == "1" or (
                MODE == "ci" and "cluster_ci" in item.keywords):
            continue
        item.add_marker(pytest.mark.skip(
            reason="needs the Galera cluster: make cluster-test (make test runs the tests "
                   "marked cluster_ci)"))


@pytest.fixture(scope="module")
def cluster() -> Cluster:
    try:
        cluster = Cluster.load()
        cluster.wait_all_synced(timeout=60)
    except ClusterError as error:
        pytest.fail("the Galera cluster is not running with three Synced nodes "
                    "(make galera): %s" % error)
    return cluster
