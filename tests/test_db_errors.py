"""Driver errors are sorted at the boundary: outage, transient, or the campaign's fault."""
import os

import pymysql
import pytest

from testkit.db import connect
from util.db import ACCESS_DENIED, DatabaseUnavailable, QueryError, TransientError, translate


def raised_by(sql, *params):
    conn = connect()
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql, params)
    except pymysql.err.MySQLError as error:
        return translate(error)
    finally:
        conn.close()
    raise AssertionError("no error from %s" % sql)


def test_a_killed_connection_is_an_outage():
    conn = connect()
    victim = connect()
    victim_id = victim.thread_id()
    with conn.cursor() as cursor:
        cursor.execute("KILL CONNECTION %s", [victim_id])
    with pytest.raises(pymysql.err.MySQLError) as caught:
        with victim.cursor() as cursor:
            cursor.execute("SELECT 1")
    assert isinstance(translate(caught.value), DatabaseUnavailable)
    conn.close()


def test_an_unreachable_server_is_an_outage():
    with pytest.raises(pymysql.err.MySQLError) as caught:
        pymysql.connect(host="127.0.0.1", port=1, connect_timeout=2)
    assert isinstance(translate(caught.value), DatabaseUnavailable)


def test_a_statement_the_server_refuses_is_a_query_error_with_its_message():
    error = raised_by("SELECT * FROM mysql.no_such_table_here")
    assert isinstance(error, QueryError) and error.code == 1146
    assert "no_such_table_here" in str(error)


def test_an_interrupted_statement_is_transient():
    error = translate(pymysql.err.OperationalError(1317, "Query execution was interrupted"))
    assert isinstance(error, TransientError)


def test_access_denied_says_authentication_failed_without_the_password():
    with pytest.raises(pymysql.err.MySQLError) as caught:
        pymysql.connect(host="127.0.0.1", user="mh_nobody", password="Zz-topsecret-1",
                        connect_timeout=2)
    error = translate(caught.value)
    assert isinstance(error, DatabaseUnavailable)
    assert str(error).startswith("authentication failed") and "Zz-topsecret-1" not in str(error)


def test_a_unix_socket_account_over_tcp_is_an_authentication_failure():
    """MariaDB answers 1698, not 1045, for an account of unix_socket authentication."""
    account = "mh_test_sock_%d" % os.getpid()
    admin = connect()
    try:
        with admin.cursor() as cursor:
            cursor.execute("CREATE USER %s@'127.0.0.1' IDENTIFIED VIA unix_socket", [account])
        with pytest.raises(pymysql.err.MySQLError) as caught:
            pymysql.connect(host="127.0.0.1", user=account, password="", connect_timeout=2)
    finally:
        with admin.cursor() as cursor:
            cursor.execute("DROP USER IF EXISTS %s@'127.0.0.1'", [account])
        admin.close()
    error = translate(caught.value)
    assert error.code == 1698 and error.code in ACCESS_DENIED
    assert isinstance(error, DatabaseUnavailable)
    assert str(error).startswith("authentication failed")
