"""The cluster suite's shared fixture: the project's 3-node Galera cluster (make galera)."""
from __future__ import annotations

import pytest

from testkit.galera import Cluster, ClusterError


@pytest.fixture(scope="module")
def cluster() -> Cluster:
    try:
        cluster = Cluster.load()
        cluster.wait_all_synced(timeout=60)
    except ClusterError as error:
        pytest.fail("the Galera cluster is not running with three Synced nodes "
                    "(make galera): %s" % error)
    return cluster
