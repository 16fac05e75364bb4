"""A network link a test can cut: a process in its own network namespace, joined to the
host by a veth pair.

    with NetNs.create() as ns:
        client = ns.popen([sys.executable, "client.py", ns.host_address])
        ...
        ns.cut()        # the link goes down: packets are dropped, nothing is refused
        ns.restore()

The namespace sees one /30 from MH_NETNS_SUBNET (169.254.213.0/24, link-local: never
routed off a link): the host end of the veth holds the first address, the namespace end
the second, and the namespace has no other route, so its processes can reach only the host
through that address. A server there must listen on it (or on 0.0.0.0): the Galera nodes of
tools/ensure_galera.sh do, and admit root from this range.

cut() takes the namespace's end down, so the host keeps its route to the /30 (through a
veth with no carrier): the host's replies are dropped on the veth instead of following the
default route off this machine. Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and iproute2.

Names carry the test process's pid (mhns<pid>_<n>, veths mh<pid>_<n>h / ...n), so
remove_stale() can delete what a killed test run left behind.
"""
from __future__ import annotations

import fcntl
import ipaddress
import itertools
import logging
import os
import re
import subprocess
import tempfile
from typing import Any, Iterator, List, Sequence, Type

logger = logging.getLogger(__name__)

SUBNET = ipaddress.IPv4Network(os.environ.get("MH_NETNS_SUBNET", "169.254.213.0/24"))
PREFIX = "mhns"
COMMAND_SECONDS = 10
_counter = itertools.count()
_STALE = re.compile(r"^%s(\d+)_\d+$" % PREFIX)


class NetNsError(RuntimeError):
    """An ip command failed or did not finish in time."""


def run_bounded(command: List[str], timeout: float,
                error: Type[Exception] = RuntimeError) -> str:
    """Run `command` to its end within `timeout` seconds; its output. `error` (with the
    command and its message) when it fails or overruns. testkit/galera.py uses it too."""
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        raise error("%s did not finish within %.0fs" % (" ".join(command), timeout)) \
            from expired
    if result.returncode != 0:
        raise error("%s failed (%d): %s" % (" ".join(command), result.returncode,
                                            (result.stderr or result.stdout).strip()[-2000:]))
    return result.stdout


def ip(*arguments: str) -> str:
    """Run `ip ARGUMENTS`, bounded; its output, or NetNsError with its message."""
    return run_bounded(["ip"] + list(arguments), COMMAND_SECONDS, NetNsError)


def _addresses_in_use() -> List[ipaddress.IPv4Address]:
    lines = ip("-4", "-o", "addr", "show").splitlines()
    return [ipaddress.IPv4Interface(line.split()[3]).ip for line in lines]


def _free_link() -> ipaddress.IPv4Network:
    """The first /30 of SUBNET none of whose addresses this host uses (caller holds the lock)."""
    in_use = set(_addresses_in_use())
    for link in SUBNET.subnets(new_prefix=30):
        if not in_use.intersection(link):
            return link
    raise NetNsError("every /30 of %s is in use" % SUBNET)


def _link_exists(name: str) -> bool:
    try:
        ip("-o", "link", "show", "dev", name)
    except NetNsError:
        return False
    return True


class _AllocationLock:
    """Serializes picking a /30 and assigning it, across test processes."""

    def __enter__(self) -> "_AllocationLock":
        self.handle = open(os.path.join(tempfile.gettempdir(), "mh-netns.lock"), "w")
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.handle.close()


class NetNs:
    """A network namespace joined to the host by a veth pair on a private /30."""

    def __init__(self, name: str, link: ipaddress.IPv4Network) -> None:
        self.name = name
        suffix = name[len(PREFIX):]
        self.host_interface = "mh%sh" % suffix      # at most 15 characters (IFNAMSIZ)
        self.ns_interface = "mh%sn" % suffix
        hosts = list(link.hosts())
        self.link = link
        self.host_address = str(hosts[0])
        self.ns_address = str(hosts[1])
        self.is_cut = False

    @classmethod
    def create(cls) -> "NetNs":
        """A new namespace, its link up; close() (or `with`) deletes it."""
        name = "%s%d_%d" % (PREFIX, os.getpid(), next(_counter))
        with _AllocationLock():
            netns = cls(name, _free_link())
            try:
                netns._set_up()
            except NetNsError:
                netns.close()
                raise
        logger.info("network namespace %s: host %s, namespace %s", name, netns.host_address,
                    netns.ns_address)
        return netns

    def _set_up(self) -> None:
        prefix = "/%d" % self.link.prefixlen
        ip("netns", "add", self.name)
        ip("link", "add", self.host_interface, "type", "veth", "peer", "name", self.ns_interface,
           "netns", self.name)
        ip("addr", "add", self.host_address + prefix, "dev", self.host_interface)
        ip("link", "set", self.host_interface, "up")
        ip("-n", self.name, "addr", "add", self.ns_address + prefix, "dev", self.ns_interface)
        ip("-n", self.name, "link", "set", "lo", "up")
        ip("-n", self.name, "link", "set", self.ns_interface, "up")

    # ---------------------------------------------------------------- processes inside

    def command(self, argv: Sequence[str]) -> List[str]:
        """`argv` prefixed to run inside the namespace."""
        return ["ip", "netns", "exec", self.name] + list(argv)

    def popen(self, argv: Sequence[str], **options: Any) -> "subprocess.Popen[Any]":
        """Start `argv` inside the namespace; the caller waits for it or kills it."""
        return subprocess.Popen(self.command(argv), **options)

    def run(self, argv: Sequence[str], timeout: float,
            **options: Any) -> "subprocess.CompletedProcess[Any]":
        """Run `argv` inside the namespace to its end, bounded by `timeout` seconds."""
        return subprocess.run(self.command(argv), timeout=timeout, **options)

    # ---------------------------------------------------------------- the link

    def cut(self) -> None:
        """Take the link down: from now on, packets either way are silently dropped."""
        ip("-n", self.name, "link", "set", self.ns_interface, "down")
        self.is_cut = True
        route = ip("-4", "route", "get", self.ns_address)
        if self.host_interface not in route:   # the host's replies would leave this machine
            self.restore()
            raise NetNsError("after the cut the host routes %s elsewhere: %s"
                             % (self.ns_address, route.strip()))

    def restore(self) -> None:
        """Bring the link back up (open connections resume if their peers kept them)."""
        ip("-n", self.name, "link", "set", self.ns_interface, "up")
        self.is_cut = False

    def close(self) -> None:
        """Delete the namespace and the veth pair. A process still running inside keeps the
        namespace alive until it exits (stop it first); its veth is deleted all the same."""
        if self.name in ip("netns", "list").split():
            ip("netns", "delete", self.name)
        # The kernel tears the namespace down, and the pair with it, a moment later (so the
        # link may vanish under our delete); a process still inside keeps both alive.
        try:
            if _link_exists(self.host_interface):
                ip("link", "delete", self.host_interface)
        except NetNsError:
            if _link_exists(self.host_interface):
                raise

    def __enter__(self) -> "NetNs":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def stale_namespaces() -> Iterator[str]:
    """Namespaces of this kit whose test process is gone."""
    for line in ip("netns", "list").splitlines():
        name = line.split()[0] if line.strip() else ""
        match = _STALE.match(name)
        if match and not os.path.exists("/proc/%s" % match.group(1)):
            yield name


def remove_stale() -> List[str]:
    """Delete the namespaces (and veths) that killed test runs left behind; their names."""
    removed = []
    for name in list(stale_namespaces()):
        ip("netns", "delete", name)
        removed.append(name)
    return removed

