//! May this node run this agent? One rule, used by the validator, the
//! scheduler, manual runs and the drift report alike:
//!
//! 1. the node allows the agent: it has no `agents` list, or the list names it;
//! 2. the node offers every capability the agent `requires`: a capability
//!    counts when git declares it in the node's `capabilities` or the node's
//!    runner reports it.
//!
//! What differs between the callers is only what they know: the validator
//! sees git alone (`observed: None`), the server also what each runner last
//! reported.

use std::fmt;

use crate::kinds::{AgentSpec, NodeSpec};

/// Why a node may not run an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The node's `agents` list does not name the agent.
    NotAllowed,
    /// The node offers none of these capabilities the agent requires.
    Lacks(Vec<String>),
}

/// A refusal with the names it concerns, to show to people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused<'a> {
    pub node: &'a str,
    pub agent: &'a str,
    pub why: Refusal,
}

/// Whether node `node` (declared as `spec`; its runner reported `observed`
/// capabilities, `None` when unknown) may run agent `agent` (`requires` from
/// `agent_spec`).
pub fn check<'a>(
    node: &'a str,
    spec: &NodeSpec,
    observed: Option<&[String]>,
    agent: &'a str,
    agent_spec: &AgentSpec,
) -> Result<(), Refused<'a>> {
    let refused = |why| Err(Refused { node, agent, why });
    if spec.agents.as_ref().is_some_and(|list| !list.iter().any(|a| a.as_str() == agent)) {
        return refused(Refusal::NotAllowed);
    }
    let offered = |cap: &str| {
        spec.capabilities.iter().any(|c| c.as_str() == cap) || observed.is_some_and(|o| o.iter().any(|c| c == cap))
    };
    let missing: Vec<String> =
        agent_spec.requires.iter().map(|r| r.as_str()).filter(|r| !offered(r)).map(str::to_string).collect();
    if !missing.is_empty() {
        return refused(Refusal::Lacks(missing));
    }
    Ok(())
}

impl Refused<'_> {
    /// How to make the agent run there.
    pub fn hint(&self) -> String {
        let Refused { node, agent, .. } = self;
        match &self.why {
            Refusal::NotAllowed => {
                format!("add {agent} to node {node}'s `agents` in git, or run it on another node")
            }
            Refusal::Lacks(missing) => format!(
                "install {} on {node} (its runner reports what it finds), or add it to the node's `capabilities` in git",
                missing.join(", ")
            ),
        }
    }
}

impl fmt::Display for Refused<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Refused { node, agent, .. } = self;
        match &self.why {
            Refusal::NotAllowed => write!(f, "node {node} does not allow agent {agent} (its `agents` list in git)"),
            Refusal::Lacks(missing) => {
                write!(f, "node {node} lacks {} that agent {agent} requires", missing.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(yaml: &str) -> NodeSpec {
        crate::de::from_json(&serde_json::from_str::<serde_json::Value>(yaml).unwrap()).unwrap()
    }

    fn agent(requires: &[&str]) -> AgentSpec {
        crate::de::from_json(&serde_json::json!({"prompt": "p", "requires": requires})).unwrap()
    }

    #[test]
    fn a_node_without_a_list_allows_every_agent_and_a_list_only_its_own() {
        let open = node(r#"{"os": "ubuntu", "address": "http://a:8100"}"#);
        assert_eq!(check("a", &open, None, "zfs", &agent(&[])), Ok(()));
        let listed = node(r#"{"os": "ubuntu", "address": "http://a:8100", "agents": ["docker"]}"#);
        let e = check("a", &listed, None, "zfs", &agent(&[])).unwrap_err();
        assert_eq!(e.why, Refusal::NotAllowed);
        assert_eq!(e.to_string(), "node a does not allow agent zfs (its `agents` list in git)");
        assert_eq!(check("a", &listed, None, "docker", &agent(&[])), Ok(()));
    }

    #[test]
    fn a_capability_counts_when_git_declares_it_or_the_runner_reports_it() {
        let declared = node(r#"{"os": "ubuntu", "address": "http://a:8100", "capabilities": ["zfs"]}"#);
        let bare = node(r#"{"os": "ubuntu", "address": "http://a:8100"}"#);
        let needs = agent(&["zfs", "smart"]);
        let e = check("a", &declared, None, "x", &needs).unwrap_err();
        assert_eq!(e.why, Refusal::Lacks(vec!["smart".into()]), "git alone: smart is missing");
        assert_eq!(e.to_string(), "node a lacks smart that agent x requires");
        assert_eq!(check("a", &declared, Some(&["smart".into()]), "x", &needs), Ok(()), "declared + observed");
        assert_eq!(check("a", &bare, Some(&["smart".into(), "zfs".into()]), "x", &needs), Ok(()), "observed only");
        let e = check("a", &bare, Some(&[]), "x", &needs).unwrap_err();
        assert_eq!(e.why, Refusal::Lacks(vec!["zfs".into(), "smart".into()]));
    }

    #[test]
    fn the_agents_list_is_checked_before_capabilities() {
        let listed = node(r#"{"os": "ubuntu", "address": "http://a:8100", "agents": ["other"]}"#);
        let e = check("a", &listed, Some(&[]), "x", &agent(&["zfs"])).unwrap_err();
        assert_eq!(e.why, Refusal::NotAllowed);
        assert!(e.hint().contains("add x to node a's `agents`"), "{}", e.hint());
    }
}
