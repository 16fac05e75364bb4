"""Scaffolding shared by the tests, tools/soak.py, tools/demo.py and bench/.

- testkit.db: the test server, throwaway databases holding the legacy schema
  (testkit/legacy_schema.sql), LegacyDB and its row builders, add_campaign.
- testkit.process: main.py as a process, db.conf files, the daemon's log, free_port.
- testkit.wait: wait_until.
- testkit.galera: the project's 3-node Galera cluster (tools/ensure_galera.sh).
- testkit.netns: a process behind a network link a test can cut.
- testkit.observe: a real Prometheus and headless Chromium.

Not part of the daemon: nothing under mg_handling/ or util/ imports it.
"""
