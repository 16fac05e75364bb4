-- The daemon's own bookkeeping, created idempotently at every start.
-- The legacy tables are never altered; everything the daemon needs to know
-- about its own progress lives here.

-- One row per campaign the daemon has seen: its state, progress and outcome.
-- state (mg_handling/states.py, RunState): pending, running, done, failed, skipped,
-- expired, retry, cancelled (pending is seen only inside the transaction that claims
-- the campaign: it commits as one of the others).
CREATE TABLE IF NOT EXISTS mh_campaign_run (
  id bigint NOT NULL AUTO_INCREMENT,
  job varchar(16) NOT NULL,
  campaign_id bigint NOT NULL,
  state varchar(16) NOT NULL,
  fingerprint char(64) NOT NULL DEFAULT '',
  target varchar(32) NOT NULL DEFAULT '',
  message mediumtext NULL,
  recipients int NOT NULL DEFAULT 0,
  written int NOT NULL DEFAULT 0,
  resume_after bigint NOT NULL DEFAULT 0,
  last_audience_id bigint NOT NULL DEFAULT 0,
  attempts int NOT NULL DEFAULT 0,
  last_error varchar(1000) NOT NULL DEFAULT '',
  created_at datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
  started_at datetime NULL,
  finished_at datetime NULL,
  updated_at datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
  -- Added in 2.0 (issue 13); a table of an older version gets them at start
  -- (operations.sql: add_run_column_*): who asked for the last cancel or retry,
  -- and where the writing last (re)started, for the rate `status` shows.
  requested varchar(16) NOT NULL DEFAULT '',
  requested_by varchar(255) NOT NULL DEFAULT '',
  requested_at datetime NULL,
  resumed_at datetime NULL,
  written_at_resume int NOT NULL DEFAULT 0,
  PRIMARY KEY (id),
  UNIQUE KEY job_campaign (job, campaign_id),
  KEY state (state, job)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The frozen audience of a running campaign: one row per recipient (a user_id,
-- an email address or a mobile number), written in id order chunk by chunk.
CREATE TABLE IF NOT EXISTS mh_audience (
  id bigint NOT NULL AUTO_INCREMENT,
  run_id bigint NOT NULL,
  recipient varchar(256) NOT NULL,
  PRIMARY KEY (id),
  KEY run_id (run_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The instance lease: one instance writes to this database at a time. It is
-- taken and renewed by writes (which a Galera cluster certifies: nothing rests on
-- one node's locks) and carries a fencing epoch, raised at every takeover, that
-- each claim and chunk transaction renews as its last statement: a stale holder's
-- transaction matches no row and rolls back. Times are the database server's.
CREATE TABLE IF NOT EXISTS mh_lease (
  lock_name varchar(64) NOT NULL,
  epoch bigint NOT NULL DEFAULT 0,
  holder varchar(128) NOT NULL DEFAULT '',
  host varchar(255) NOT NULL DEFAULT '',
  pid int NOT NULL DEFAULT 0,
  acquired_at datetime(6) NULL,
  expires_at datetime(6) NOT NULL,
  PRIMARY KEY (lock_name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The instances standing by for the lease (standby = true), for `status`.
CREATE TABLE IF NOT EXISTS mh_standby (
  lock_name varchar(64) NOT NULL,
  holder varchar(128) NOT NULL,
  host varchar(255) NOT NULL,
  pid int NOT NULL,
  since datetime NOT NULL,
  seen_at datetime NOT NULL,
  PRIMARY KEY (lock_name, holder)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- What each job thread of each instance is doing (issue 12): written by the job
-- itself at the start and end of its polls and while it writes a campaign, in
-- small transactions of its own; read by `status` and the status page. A job
-- of the lock holder whose poll_ended_at is older than max(3 x poll_interval,
-- 60 s) is stuck (mg_handling/web.py: stuck_limit). Rows of instances gone for a
-- day are deleted at start.
CREATE TABLE IF NOT EXISTS mh_job_health (
  lock_name varchar(64) NOT NULL,
  host varchar(255) NOT NULL,
  pid int NOT NULL,
  job varchar(16) NOT NULL,
  poll_interval double NOT NULL,
  poll_started_at datetime NULL,
  poll_ended_at datetime NULL,
  doing varchar(255) NOT NULL DEFAULT '',
  last_error varchar(1000) NULL,
  last_error_at datetime NULL,
  updated_at datetime NOT NULL,
  PRIMARY KEY (lock_name, host, pid, job),
  KEY updated_at (updated_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
