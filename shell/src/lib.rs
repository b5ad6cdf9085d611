//! What a bash command would do, worked out before it runs, for a policy
//! that must decide whether to let it: the simple commands it holds and the
//! words bash will pass them ([`script`]), which of those commands only read
//! and which files they read ([`command`]), which variables may be set
//! ([`env`]), and what a path really names ([`paths`]).
//!
//! Everything here fails closed: a construct the analysis does not fully
//! understand is reported as unchecked, a program or option nobody
//! described is not a read.

pub mod command;
pub mod env;
pub mod paths;
pub mod script;
pub mod word;

pub use command::{Access, Classified, Culprit, PathUse, classify, program_name};
pub use script::{Assignment, Command, Part, Redirect, Script, Unchecked, analyse, join};
pub use word::Word;
