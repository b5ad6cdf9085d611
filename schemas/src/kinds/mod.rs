//! The specs of the six kinds of document, one module each.

pub mod agent;
pub mod node;
pub mod notification;
pub mod schedule;
pub mod trigger;

pub use agent::AgentSpec;
pub use node::NodeSpec;
pub use notification::{NotificationChannelSpec, NotificationRuleSpec};
pub use schedule::{NodeSelector, ScheduleSpec};
pub use trigger::TriggerSpec;
