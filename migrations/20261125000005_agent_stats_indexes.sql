-- Agent statistics at scale (GET /api/v1/agents/{name} with a million runs):
-- the newest run per node by a skip scan, and the 30-day figures from the
-- index alone.
CREATE INDEX runs_agent_node_newest ON runs (agent, node, created_at DESC);
CREATE INDEX runs_agent_stats ON runs (agent, created_at) INCLUDE (status, cost_usd, started_at, finished_at);
