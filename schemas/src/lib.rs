pub mod de;
pub mod diagnostic;
pub mod yaml;
