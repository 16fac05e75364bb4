"""util.sdnotify against a real datagram socket bound where $NOTIFY_SOCKET points,
as systemd binds it for a Type=notify unit. No database."""
from __future__ import annotations

import os
import socket
import uuid
from typing import Iterator

import pytest

from util import sdnotify


def _receive(sock: socket.socket) -> str:
    return sock.recv(4096).decode("utf-8")


@pytest.fixture
def listener(tmp_path, monkeypatch) -> Iterator[socket.socket]:
    """A datagram socket bound to a path, announced in NOTIFY_SOCKET."""
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(2)
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        yield sock


def test_each_message_arrives_as_one_datagram(listener: socket.socket) -> None:
    assert sdnotify.ready()
    assert _receive(listener) == "READY=1"
    assert sdnotify.watchdog()
    assert _receive(listener) == "WATCHDOG=1"
    assert sdnotify.stopping()
    assert _receive(listener) == "STOPPING=1"


def test_status_is_one_line_of_utf8(listener: socket.socket) -> None:
    doing = "sending news 42 《春节<促销>》: 120000/838308 rows"
    assert sdnotify.status(doing + "\nthen idle")
    assert _receive(listener) == "STATUS=" + doing + " then idle"


def test_several_assignments_share_a_datagram(listener: socket.socket) -> None:
    assert sdnotify.notify("READY=1", "STATUS=idle")
    assert _receive(listener) == "READY=1\nSTATUS=idle"


def test_abstract_socket_name(monkeypatch) -> None:
    name = "mh-test-notify-%s" % uuid.uuid4().hex
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert sdnotify.ready()
        assert _receive(sock) == "READY=1"


def test_nothing_happens_outside_systemd(monkeypatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not sdnotify.ready()
    assert not sdnotify.status("idle")


def test_a_vanished_socket_is_logged_not_raised(tmp_path, monkeypatch, caplog) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone.sock"))
    assert not sdnotify.watchdog()
    assert "systemd notification WATCHDOG not delivered" in caplog.text


def test_an_unusable_address_is_ignored(monkeypatch, caplog) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", "vsock:2:1234")
    assert not sdnotify.ready()
    assert "neither a path nor an abstract name" in caplog.text


@pytest.mark.parametrize("usec, pid, expected", [
    ("30000000", None, 30.0),
    ("30000000", "self", 30.0),
    ("30000000", "other", None),  # the pings are expected from another process
    ("0", None, None),
    ("", None, None),
    ("garbage", None, None),
])
def test_watchdog_timeout(monkeypatch, usec: str, pid: str, expected: float) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", usec)
    if pid is None:
        monkeypatch.delenv("WATCHDOG_PID", raising=False)
    else:
        monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() if pid == "self" else os.getpid() + 1))
    assert sdnotify.watchdog_timeout() == expected


def test_no_watchdog_without_systemd(monkeypatch) -> None:
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert sdnotify.watchdog_timeout() is None
