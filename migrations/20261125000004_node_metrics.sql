-- Node metrics for charts, downsampled as they arrive: each health check
-- folds into its minute and its hour (a running mean; disk is the fullest
-- disk). Minutes are kept 2 days, hours 90 days.
CREATE TABLE node_metrics (
    node          text NOT NULL,
    resolution    text NOT NULL CHECK (resolution IN ('minute', 'hour')),
    bucket        timestamptz NOT NULL,
    samples       integer NOT NULL,
    cpu_percent   double precision NOT NULL,
    memory_percent double precision NOT NULL,
    load1         double precision NOT NULL,
    disk_percent  double precision NOT NULL,
    PRIMARY KEY (node, resolution, bucket)
);
