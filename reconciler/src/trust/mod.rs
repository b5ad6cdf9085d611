//! Who may do what: users, sessions and API keys ([`users`]) with their
//! roles and the HTTP guard ([`access`]), the first admin ([`bootstrap`]),
//! passwords and login throttling, node enrollment and node keys, the
//! encrypted secret store, webhooks' shared secrets ([`signature`]), and
//! the append-only audit log of it all.

pub mod access;
pub mod audit;
pub mod bootstrap;
pub mod enrollment;
pub mod node_keys;
pub mod password;
pub mod secrets;
pub mod signature;
pub mod throttle;
pub mod tokens;
pub mod users;
