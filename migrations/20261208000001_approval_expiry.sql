-- When a held call is denied unanswered (its request's `timeout_ms`, the
-- agent's approvalTimeout), so the dashboard can count down. NULL for
-- approvals recorded before this column was kept.
ALTER TABLE approvals ADD COLUMN expires_at timestamptz;
