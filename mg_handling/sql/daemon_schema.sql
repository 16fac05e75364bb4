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

-- Who holds the single-instance lock of this database, for `status` and for
-- the message a second instance prints.
CREATE TABLE IF NOT EXISTS mh_instance (
  lock_name varchar(64) NOT NULL,
  host varchar(255) NOT NULL,
  pid int NOT NULL,
  connection_id bigint NOT NULL,
  started_at datetime NOT NULL,
  PRIMARY KEY (lock_name)
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
