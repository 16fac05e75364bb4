"""The benchmark's outputs under bench/results/: results.md (tables), results.json
(raw figures), explain.txt (plans) and chart.png (rows/s by audience size)."""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional

from explain import as_text

CONTENDERS = ("daemon", "floor", "legacy")
COLORS = {"daemon": "#1f77b4", "floor": "#2ca02c", "legacy": "#d62728"}


def _num(value: Optional[float], digits: int = 1) -> str:
    return "—" if value is None else "{:,.{}f}".format(value, digits)


def _figure(result: Dict[str, Any], contender: str, key: str) -> Optional[float]:
    entry = result.get(contender)
    return entry.get(key) if entry else None


# ------------------------------------------------------------------ markdown
def machine_table(machine: Dict[str, Any]) -> List[str]:
    lines = ["| machine | |", "| --- | --- |"]
    lines += ["| %s | %s |" % (key, value) for key, value in machine.items()]
    return lines


def campaign_table(campaigns: List[Dict[str, Any]]) -> List[str]:
    lines = ["| campaign | aimed at | recipients | region | industry | func | floor shape |",
             "| --- | ---: | ---: | --- | --- | --- | --- |"]
    for c in campaigns:
        lines.append("| %s | %s %% | %s | %s | %s | %s | %s |" % (
            c["name"], _num(100 * c["fraction"], 0), _num(c["audience"], 0),
            _short(c["region"]), _short(c["industry"]), _short(c["func"]), c["shape"]))
    return lines


def _short(codes: str, limit: int = 40) -> str:
    return codes if len(codes) <= limit else "%s… (%d codes)" % (
        codes[:limit], len(codes.replace("，", ",").split(",")))


def pass_table(results: Dict[str, Dict[str, Any]]) -> List[str]:
    lines = ["| campaign | recipients | daemon s (logged) | daemon rows/s | floor s "
             "| floor rows/s "
             "| legacy s (extrap.) | legacy query s | legacy rows/s | daemon/floor "
             "| legacy/daemon | legacy inserts alone/daemon | daemon peak RSS MB | daemon plan "
             "| daemon runs ok | same rows as floor "
             "| duplicates |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
             "| ---: | ---: | --- | ---: | --- | ---: |"]
    for name, r in results.items():
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s "
                     "| %s | %s | %s |" % (
            name, _num(_figure(r, "floor", "rows"), 0),
            "%s (%s)" % (_num(_figure(r, "daemon", "seconds"), 2),
                         _num(_figure(r, "daemon", "logged_seconds"), 2)),
            _num(_figure(r, "daemon", "rows_per_s"), 0),
            _num(_figure(r, "floor", "seconds"), 2), _num(_figure(r, "floor", "rows_per_s"), 0),
            _num(_figure(r, "legacy", "seconds"), 1),
            _num(_figure(r, "legacy", "query_seconds"), 1),
            _num(_figure(r, "legacy", "rows_per_s"), 0),
            _num(r.get("daemon_over_floor"), 2), _num(r.get("legacy_over_daemon"), 1),
            _num(r.get("legacy_inserts_over_daemon"), 1),
            _num(r.get("peak_rss_mb"), 1), r.get("daemon_plan", "?"), r.get("daemon_ok_runs"),
            "yes" if r.get("same_rows") else "**NO**", r.get("duplicates", "?")))
    return lines


def scaling_table(scaling: List[Dict[str, Any]]) -> List[str]:
    lines = ["| users | recipients | daemon s | floor s | daemon s per 100k recipients "
             "| floor s per 100k recipients | daemon peak RSS MB |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for s in scaling:
        per = lambda key: s[key] / s["rows"] * 1e5 if s.get(key) and s["rows"] else None  # noqa
        lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            _num(s["users"], 0), _num(s["rows"], 0), _num(s.get("daemon_s"), 2),
            _num(s.get("floor_s"), 2), _num(per("daemon_s"), 2), _num(per("floor_s"), 2),
            _num(s.get("peak_rss_mb"), 1)))
    return lines


def idle_table(idle: Dict[str, Any]) -> List[str]:
    if not idle:
        return ["(not measured)"]
    counters = idle["server_counters"]
    return ["| idle (nothing due) | |", "| --- | --- |",
            "| window | %s s, poll_interval %s s, %s polls per job |" % (
                idle["seconds"], idle["poll_interval"], idle["polls_per_job"]),
            "| daemon CPU in the window | %s s |" % idle["cpu_seconds"],
            "| SELECTs per poll (3 jobs + lock keeper) | %s |" % idle["selects_per_poll"],
            "| SELECTs per job per poll (keeper's 1 taken out) | %s |" % idle["per_job_per_poll"],
            "| all statements per poll (incl. BEGIN/COMMIT) | %s |" % idle["statements_per_poll"],
            "| rows read per poll | %s |" % idle["rows_read_per_poll"],
            "| server counters (delta) | %s |" % ", ".join(
                "%s %s" % (k, v) for k, v in counters.items() if v and k != "CONNECTED_TIME"),
            "| exit code after SIGTERM | %s |" % idle["exit_code_after_sigterm"]]


def targets_table(targets: List[Dict[str, Any]]) -> List[str]:
    lines = ["| target | measured | limit | result |", "| --- | ---: | --- | --- |"]
    for t in targets:
        lines.append("| %s | %s | %s | %s |" % (t["target"], t["measured"], t["limit"],
                                              "pass" if t["pass"] else "**FAIL**"))
    return lines


def explain_findings(explains: List[Dict[str, Any]]) -> List[str]:
    lines = ["| campaign | daemon plan | daemon full scans (type ALL) | floor full scans |",
             "| --- | --- | --- | --- |"]
    for e in explains:
        lines.append("| %s | %s | %s | %s |" % (
            e["campaign"], e["daemon_plan_choice"], ", ".join(e["daemon_full_scans"]) or "none",
            ", ".join(e["floor_full_scans"]) or "none"))
    return lines


def markdown(data: Dict[str, Any]) -> str:
    out = ["# Fan-out benchmark (issue 4)", "", "Command: `%s`" % data["command"], ""]
    out += machine_table(data["machine"]) + [""]
    gen = data.get("generation") or {}
    if gen:
        out += ["Data: %s users, seed %s, generated in %s s (recommended indexes: %s)." % (
            _num(gen["users"], 0), gen["seed"], _num(gen["seconds"]["total"]),
            "applied" if gen["extra_indexes"] else "none"), ""]
    out += ["## Campaigns", ""] + campaign_table(data["campaigns"]) + [""]
    for run in data["passes"].values():
        out += ["## %s" % run["title"], "",
                "innodb_buffer_pool_size %s MiB, median of %d%s; load average at start %s." % (
                    run["pool_bytes"] // 1048576, run["repeat"],
                    "" if run["legacy"] else ", legacy not run in this pass",
                    run.get("load_average", "?")), ""]
        out += pass_table(run["results"]) + [""]
    out += ["## Scaling (100 % campaign)", ""] + scaling_table(data.get("scaling", [])) + [""]
    out += ["## Idle cost", ""] + idle_table(data.get("idle") or {}) + [""]
    out += ["## EXPLAIN (see explain.txt)", ""] + explain_findings(data.get("explain", [])) + [""]
    out += ["## Targets", ""] + targets_table(data["targets"]) + [""]
    out += ["![rows/s by audience size](chart.png)", ""]
    return "\n".join(out)


def explain_text(data: Dict[str, Any]) -> str:
    out = []
    for e in data.get("explain", []):
        out += ["== %s: daemon fill (%s plan)" % (e["campaign"], e["daemon_plan_choice"]),
                e["daemon_statement"], "", as_text(e["daemon"]), "",
                "== %s: floor (%s shape)" % (e["campaign"], e["floor_shape"]), as_text(e["floor"]),
                ""]
    for name, plan in (data.get("explain_due") or {}).items():
        out += ["== %s (one per job and poll)" % name, as_text(plan), ""]
    return "\n".join(out)


# ------------------------------------------------------------------ chart
def chart(data: Dict[str, Any], path: str) -> None:
    """Imported here: matplotlib would make this process, and so the RSS of every
    daemon it forks before exec, 45 MB bigger."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    passes = list(data["passes"].values())
    fig, axes = plt.subplots(1, len(passes) + 1, figsize=(6 * (len(passes) + 1), 4.5))
    for axis, run in zip(axes, passes):
        _bars(axis, run)
    _scaling(axes[-1], data.get("scaling", []))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _bars(axis: Any, run: Dict[str, Any]) -> None:
    names = list(run["results"])
    width = 0.8 / len(CONTENDERS)
    for n, contender in enumerate(CONTENDERS):
        values = [_figure(run["results"][name], contender, "rows_per_s") or 0 for name in names]
        axis.bar([i + (n - 1) * width for i in range(len(names))], values, width,
                 label=contender, color=COLORS[contender])
    labels = ["%s\n%s rows" % (name, _num(_figure(run["results"][name], "floor", "rows"), 0))
              for name in names]
    axis.set_xticks(range(len(names)), labels, fontsize=8)
    axis.set_yscale("log")
    axis.set_ylabel("rows/s (log scale)")
    axis.set_title("%s (buffer pool %d MiB)" % (run["title"], run["pool_bytes"] // 1048576),
                   fontsize=10)
    axis.legend(fontsize=8)


def _scaling(axis: Any, scaling: List[Dict[str, Any]]) -> None:
    for key, contender in (("daemon_s", "daemon"), ("floor_s", "floor")):
        points = [(s["users"], s[key]) for s in scaling if s.get(key)]
        if points:
            axis.plot(*zip(*points), marker="o", label=contender, color=COLORS[contender])
    axis.set_xlabel("users")
    axis.set_ylabel("seconds (100 % campaign)")
    axis.set_title("scaling", fontsize=10)
    axis.legend(fontsize=8)


def write(directory: str, data: Dict[str, Any]) -> None:
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "results.json"), "w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, indent=1, default=str)
    with open(os.path.join(directory, "results.md"), "w", encoding="utf-8") as handle:
        handle.write(markdown(data))
    with open(os.path.join(directory, "explain.txt"), "w", encoding="utf-8") as handle:
        handle.write(explain_text(data))
    chart(data, os.path.join(directory, "chart.png"))
