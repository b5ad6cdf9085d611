//! The subcommands besides `serve`: `validate`, `plan`, `can-i`, `schema`.

pub mod can_i;
pub mod plan;
pub mod schema;
pub mod validate;
