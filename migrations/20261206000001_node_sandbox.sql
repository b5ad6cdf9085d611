-- How a node's runner holds read-only agents to reading, as its health
-- reports it: `landlock v7`, or NULL when its kernel has no Landlock (then
-- read-only agents are refused there unless git says `sandbox: unenforced`).
ALTER TABLE node_observations ADD COLUMN sandbox text;
