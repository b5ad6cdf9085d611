//! Where a schedule's or a trigger's agents run: every live node its node
//! selector picks that allows the agent and offers what it `requires`
//! (declared in git or reported by the node's runner). The scheduler and
//! the trigger hooks both ask here, so the two never place differently.

use car_schemas::kinds::schedule::NodeSelector;
use car_schemas::placement;
use car_schemas::values::Name;

use crate::config::snapshot::Snapshot;
use crate::nodes::repo::NodeObservation;

/// One agent on one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    pub agent: &'a str,
    pub node: &'a str,
}

/// The agent and node pairs to start, agents in the order given, nodes by
/// name. An agent that is not live, or a node that refuses it, is left out.
pub fn targets<'a>(
    config: &'a Snapshot,
    agents: &'a [impl std::ops::Deref<Target = Name>],
    nodes: &NodeSelector,
    observed: &[NodeObservation],
) -> Vec<Target<'a>> {
    let mut targets = Vec::new();
    for agent in agents {
        let Some(a) = config.agents.get(agent.as_str()) else { continue };
        for (node, n) in &config.nodes {
            let picked = nodes.matches(node, |t| n.spec.tags.iter().any(|x| x.as_str() == t));
            let caps = observed.iter().find(|o| o.name == *node).map(|o| o.capabilities.as_slice());
            if picked && placement::check(node, &n.spec, caps, a.name.as_str(), &a.spec).is_ok() {
                targets.push(Target { agent: a.name.as_str(), node: node.as_str() });
            }
        }
    }
    targets
}
