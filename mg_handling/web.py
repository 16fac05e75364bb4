"""The daemon's HTTP port (issue 12): /metrics, /healthz and a live status page at /.

`StatusServer` serves them from a daemon thread. The page and /healthz are
built from a `PageSnapshot` that a callable given by the daemon returns at
each request; `render_page` and `health` are pure functions of it. Nothing
here writes anywhere: the handler answers GET only (anything else gets 501).

The page is one self-contained HTML document: inline CSS, no script, no
external asset (it must work on a network with no internet, and its Content
Security Policy forbids anything else), reloaded by a meta refresh. Every
value shown goes through html.escape: campaign titles are free text.
"""
from __future__ import annotations

import html
import json
import logging
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional, Tuple
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from mg_handling.formats import duration, number, timestamp
from mg_handling.views import (
    InstanceView,
    JobView,
    PageSnapshot,
    RunningCampaign,
)

logger = logging.getLogger(__name__)

REFRESH_SECONDS = 5
STUCK_FLOOR_SECONDS = 60.0
DEFAULT_ADDRESS = "127.0.0.1"
HTML_TYPE = "text/html; charset=utf-8"
JSON_TYPE = "application/json; charset=utf-8"
SECURITY_HEADERS = (
    ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
)


# ---------------------------------------------------------------- health

def stuck_limit(poll_interval: float) -> float:
    """Seconds without a completed poll after which a job counts as stuck."""
    return max(3 * poll_interval, STUCK_FLOOR_SECONDS)


def job_problem(job: JobView, now: datetime, poll_interval: float) -> Optional[str]:
    """Why the job is unhealthy (stuck on a statement, or its thread dead), or None.
    Before its first poll ends, the time counts from that poll's start: a daemon
    that just started, or whose first poll sends a campaign, is not stuck yet."""
    last = job.poll_ended or job.poll_started
    if last is None:
        return "job %s has not started polling (doing: %s)" % (job.name, job.doing)
    silent = (now - last).total_seconds()
    if silent > stuck_limit(poll_interval):
        return "job %s has not completed a poll for %s (doing: %s)" % (
            job.name, duration(silent), job.doing)
    return None


def _lock_problem(instance: InstanceView) -> Optional[str]:
    if instance.holds_lock:
        return None
    if instance.holder is None:
        return "no instance holds the lock"
    return "this instance does not hold the lock (%s does, since %s)" % (
        instance.holder, timestamp(instance.holder_since))


def health(snapshot: PageSnapshot) -> Tuple[bool, str]:
    """Healthy only when this instance holds the lock and every job polls."""
    problems = [_lock_problem(snapshot.instance)]
    problems += [job_problem(job, snapshot.now, snapshot.poll_interval)
                 for job in snapshot.jobs]
    found = [problem for problem in problems if problem]
    if found:
        return False, "; ".join(found)
    return True, "holds the lock; %d jobs polling" % len(snapshot.jobs)


def status_line(snapshot: PageSnapshot) -> str:
    """The line for systemd's STATUS= (`systemctl status`): 'idle', or what is
    being sent, e.g. 'sending news 42: 120000/838308 rows'."""
    if not snapshot.instance.holds_lock:
        return "standby: %s" % _lock_problem(snapshot.instance)
    sending = ["sending %s %s: %s" % (
        campaign.job, campaign.campaign_id,
        "freezing the audience" if campaign.total is None
        else "%d/%d rows" % (campaign.written, campaign.total))
        for campaign in snapshot.running]
    return "; ".join(sending) or "idle"


# ---------------------------------------------------------------- the page

def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _ago(value: Optional[datetime], now: datetime) -> str:
    """'23:58:50 (40 s ago)': the date only when it is not today's."""
    if value is None:
        return "-"
    shown = value.strftime("%H:%M:%S") if value.date() == now.date() else timestamp(value)
    return '<span class="when">%s <span class="muted">(%s ago)</span></span>' % (
        _e(shown), _e(duration((now - value).total_seconds())))


def _badge(text: str, kind: str) -> str:
    return '<span class="badge %s">%s</span>' % (_e(kind), _e(text))


def _instance_section(snapshot: PageSnapshot) -> str:
    instance = snapshot.instance
    if instance.holds_lock:
        lock = "held by this instance (%s)" % _e(instance.me)
    elif instance.holder:
        lock = "held by %s" % _e(instance.holder)
    else:
        lock = "<strong>nobody holds it: nothing is being sent</strong>"
    since = _ago(instance.holder_since, snapshot.now) if instance.holder else "-"
    standby = ", ".join(_e(name) for name in instance.standby) or "none"
    return ('<section><h2>Instance</h2><dl>'
            '<dt>This instance</dt><dd>%s</dd><dt>Database</dt><dd>%s</dd>'
            '<dt>Instance lock</dt><dd>%s</dd><dt>Since</dt><dd>%s</dd>'
            '<dt>Standby</dt><dd>%s</dd></dl></section>'
            % (_e(instance.me), _e(instance.database), lock, since, standby))


def _job_row(job: JobView, snapshot: PageSnapshot) -> str:
    problem = job_problem(job, snapshot.now, snapshot.poll_interval)
    state = _badge("stuck", "bad") if problem else _badge("polling", "good")
    error = "-"
    if job.last_error:
        error = '%s<br><span class="muted">%s</span>' % (
            _e(job.last_error), _ago(job.last_error_at, snapshot.now))
    return ("<tr><th>%s</th><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
            '<td class="wrap">%s</td></tr>'
            % (_e(job.name), state, _ago(job.poll_started, snapshot.now),
               _ago(job.poll_ended, snapshot.now), _e(job.doing), error))


def _jobs_section(snapshot: PageSnapshot) -> str:
    rows = "".join(_job_row(job, snapshot) for job in snapshot.jobs)
    return ('<section><h2>Jobs</h2><p class="muted">A job is stuck when it has not completed '
            'a poll nor committed a chunk for %s (3 &times; poll_interval, at least %d s).</p>'
            "<table><thead><tr><th>Job</th><th>State</th><th>Last poll started</th>"
            "<th>Last poll ended</th><th>Doing</th><th>Last error</th></tr></thead>"
            "<tbody>%s</tbody></table></section>"
            % (_e(duration(stuck_limit(snapshot.poll_interval))), STUCK_FLOOR_SECONDS, rows))


def _progress(campaign: RunningCampaign, now: datetime) -> str:
    """The bar and its figures: rows/s is the average since the claim."""
    if campaign.total is None:
        return ('<div class="bar"><div class="fill pending" style="width: 100%"></div></div>'
                '<p class="figures">freezing the audience&hellip;</p>')
    share = 100.0 * campaign.written / campaign.total if campaign.total else 100.0
    share = min(100.0, max(0.0, share))
    elapsed = (now - campaign.claimed).total_seconds()
    rate = campaign.written / elapsed if elapsed > 0 else 0.0
    left = campaign.total - campaign.written
    eta = duration(left / rate) if rate > 0 else "-"
    return ('<div class="bar" role="progressbar" aria-valuemin="0" aria-valuemax="%d" '
            'aria-valuenow="%d"><div class="fill" style="width: %.1f%%"></div></div>'
            '<p class="figures"><strong>%s</strong> / %s rows (%.1f %%) &middot; %s rows/s '
            "&middot; ETA %s</p>"
            % (campaign.total, campaign.written, share, _e(number(campaign.written)),
               _e(number(campaign.total)), share, _e(number(int(round(rate)))), _e(eta)))


def _running_section(snapshot: PageSnapshot) -> str:
    items = []
    for campaign in snapshot.running:
        items.append('<div class="campaign"><div class="head"><span class="job">%s</span> '
                     '<span class="id">#%s</span> <span class="title">%s</span>'
                     '<span class="muted right">claimed %s</span></div>%s</div>'
                     % (_e(campaign.job), _e(campaign.campaign_id), _e(campaign.title),
                        _ago(campaign.claimed, snapshot.now),
                        _progress(campaign, snapshot.now)))
    body = "".join(items) or '<p class="muted">No campaign is being sent.</p>'
    return "<section><h2>Running campaigns</h2>%s</section>" % body


OUTCOME_KINDS = {"done": "good", "failed": "bad", "skipped": "warn", "expired": "warn"}


def _recent_section(snapshot: PageSnapshot) -> str:
    rows = "".join(
        "<tr><td>%s</td><td>%s</td><td>#%s</td><td>%s</td><td>%s</td>"
        '<td class="num">%s</td><td class="wrap">%s</td></tr>'
        % (_e(timestamp(run.finished)), _e(run.job), _e(run.campaign_id), _e(run.title),
           _badge(run.outcome, OUTCOME_KINDS.get(run.outcome, "neutral")),
           _e(number(run.recipients)), _e(run.reason or ""))
        for run in snapshot.recent)
    if not rows:
        rows = '<tr><td colspan="7" class="muted">No campaign settled.</td></tr>'
    return ("<section><h2>Last %d hours</h2><table><thead><tr><th>Finished</th><th>Job</th>"
            "<th>Campaign</th><th>Title</th><th>Outcome</th><th>Recipients</th>"
            "<th>Reason</th></tr></thead><tbody>%s</tbody></table></section>"
            % (snapshot.recent_hours, rows))


STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "Noto Sans", "WenQuanYi Micro Hei",
       sans-serif; margin: 0; background: #f3f5f8; color: #1d2430; }
header { background: #1d2430; color: #fff; padding: 14px 24px; display: flex;
         align-items: center; gap: 14px; flex-wrap: wrap; }
header h1 { font-size: 19px; margin: 0; font-weight: 600; }
header .sub { color: #b7c0cf; font-size: 13px; }
main { padding: 8px 24px 24px; max-width: 1200px; }
section { background: #fff; border-radius: 8px; padding: 12px 18px 16px; margin-top: 16px;
          box-shadow: 0 1px 3px rgba(0, 0, 0, .08); }
h2 { font-size: 15px; margin: 0 0 10px; color: #3b4659; text-transform: uppercase;
     letter-spacing: .04em; }
dl { display: grid; grid-template-columns: 140px 1fr; margin: 0; row-gap: 4px; }
dt { color: #5d6878; } dd { margin: 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 10px 6px 0; border-bottom: 1px solid #e6e9ef;
         vertical-align: top; }
thead th { color: #5d6878; font-weight: 600; font-size: 12px; }
tbody th { font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.wrap { max-width: 360px; overflow-wrap: anywhere; }
.muted { color: #7a8494; font-size: 12px; }
.when { white-space: nowrap; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 10px; font-size: 12px;
         font-weight: 600; background: #e6e9ef; color: #3b4659; }
.badge.good { background: #d9f2e1; color: #17693a; }
.badge.bad { background: #fbdada; color: #a31d1d; }
.badge.warn { background: #fdecc8; color: #8a5300; }
header .badge { font-size: 13px; }
.campaign { padding: 8px 0 4px; border-bottom: 1px solid #e6e9ef; }
.campaign:last-child { border-bottom: 0; }
.campaign .head { display: flex; gap: 8px; align-items: baseline; }
.campaign .job { font-weight: 600; } .campaign .id { color: #5d6878; }
.campaign .title { font-weight: 600; font-size: 15px; }
.right { margin-left: auto; }
.bar { height: 16px; background: #e6e9ef; border-radius: 8px; overflow: hidden; margin: 8px 0 4px; }
.fill { height: 100%; background: linear-gradient(90deg, #2f7de1, #38a3f1); }
.fill.pending { background: repeating-linear-gradient(45deg, #c9d3e0 0 10px, #dfe5ee 10px 20px); }
.figures { margin: 0; font-variant-numeric: tabular-nums; }
.problem { border-left: 4px solid #d64545; } .problem h2 { color: #a31d1d; }
.problem p { margin: 0; }
"""

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="%(refresh)d">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%(title)s</title><style>%(style)s</style></head>
<body><header><h1>message_handling</h1>%(badge)s<span class="sub">%(sub)s</span></header>
<main>%(reason)s%(sections)s</main></body></html>
"""


def render_page(snapshot: PageSnapshot) -> str:
    """The status page, a complete HTML document."""
    ok, reason = health(snapshot)
    badge = _badge("healthy", "good") if ok else _badge("unhealthy", "bad")
    sub = "%s &middot; %s &middot; refreshes every %d s" % (
        _e(snapshot.instance.me), _e(timestamp(snapshot.now)), REFRESH_SECONDS)
    why = "" if ok else '<section class="problem"><h2>Unhealthy</h2><p>%s</p></section>' % _e(
        reason)
    sections = (_instance_section(snapshot) + _jobs_section(snapshot)
                + _running_section(snapshot) + _recent_section(snapshot))
    title = "message_handling %s: %s" % (snapshot.instance.me, "healthy" if ok else "unhealthy")
    return PAGE % {"refresh": REFRESH_SECONDS, "title": _e(title), "style": STYLE,
                   "badge": badge, "sub": sub, "reason": why, "sections": sections}


def _unavailable_page(error: str) -> str:
    return PAGE % {"refresh": REFRESH_SECONDS, "title": "message_handling: status unavailable",
                   "style": STYLE, "badge": _badge("unavailable", "bad"), "sub": "",
                   "reason": '<section class="problem"><h2>Status unavailable</h2><p>%s</p>'
                             "</section>" % _e(error),
                   "sections": ""}


# ---------------------------------------------------------------- the server

class _Server(ThreadingHTTPServer):
    daemon_threads = True
    snapshot: Callable[[], PageSnapshot]
    registry: CollectorRegistry


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "message_handling"

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        path = urlsplit(self.path).path
        if path == "/metrics":
            self._answer(200, CONTENT_TYPE_LATEST, generate_latest(self.server.registry))
        elif path in ("/", "/healthz"):
            self._status(path)
        else:
            self._answer(404, JSON_TYPE, b'{"error": "not found: try /, /healthz or /metrics"}\n')

    def _status(self, path: str) -> None:
        try:
            snapshot = self.server.snapshot()
        except Exception as error:  # the database is down, for one
            logger.warning("status page: no snapshot: %s", error)
            reason = "status unavailable: %s" % error
            if path == "/":
                self._answer(503, HTML_TYPE, _unavailable_page(reason).encode("utf-8"))
            else:
                self._answer(503, JSON_TYPE, _health_json(False, reason))
            return
        if path == "/":
            self._answer(200, HTML_TYPE, render_page(snapshot).encode("utf-8"))
        else:
            ok, reason = health(snapshot)
            self._answer(200 if ok else 503, JSON_TYPE, _health_json(ok, reason))

    def _answer(self, code: int, content_type: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in SECURITY_HEADERS:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (its signature)
        logger.debug("http %s: " + format, self.client_address[0], *args)


def _health_json(ok: bool, reason: str) -> bytes:
    return (json.dumps({"healthy": ok, "reason": reason}, ensure_ascii=False) + "\n").encode()


class StatusServer:
    """/metrics, /healthz and / on one port, served by a daemon thread.
    Binding happens here: a port in use raises OSError."""

    def __init__(self, snapshot: Callable[[], PageSnapshot], registry: CollectorRegistry,
                 port: int, address: str = DEFAULT_ADDRESS) -> None:
        self._httpd = _Server((address, port), _Handler)
        self._address = address
        self._httpd.snapshot = snapshot
        self._httpd.registry = registry
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        name="status-page", daemon=True)

    @property
    def url(self) -> str:
        return "http://%s:%d/" % (self._address, self._httpd.server_port)

    def start(self) -> None:
        self._thread.start()
        logger.info("status page, /healthz and /metrics at %s", self.url)

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() waits for serve_forever to end
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.server_close()
