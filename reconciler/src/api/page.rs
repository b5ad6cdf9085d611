//! One shape for every list that comes in pages (runs, the audit log,
//! notifications): the items, newest first, and the cursor of the next page.

use serde::Serialize;
use utoipa::ToSchema;

/// A page of a list, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    /// Pass as `before` for the next (older) page; `null` on the last page.
    pub next: Option<String>,
}

impl<T: ToSchema> Page<T> {
    /// A page of at most `limit` items; `cursor` names an item for `before`.
    pub fn of(items: Vec<T>, limit: usize, cursor: impl Fn(&T) -> String) -> Self {
        let next = (items.len() == limit).then(|| items.last().map(&cursor)).flatten();
        Page { items, next }
    }
}
