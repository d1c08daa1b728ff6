//! Host objects that JavaScript refers to by number: a decoder, a compressor, a native body, an
//! in-flight fetch. One table per kind per isolate, kept in its userdata.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

/// Values by id; ids start at 1, so 0 can mean "none" on the JavaScript side.
pub struct IdTable<T> {
    next_id: Cell<u32>,
    items: RefCell<HashMap<u32, T>>,
}

impl<T> Default for IdTable<T> {
    fn default() -> Self {
        Self {
            next_id: Cell::new(0),
            items: RefCell::default(),
        }
    }
}

impl<T> IdTable<T> {
    /// Stores `item` under a fresh id.
    pub fn insert(&self, item: T) -> u32 {
        let id = self.next_id.get().wrapping_add(1).max(1);
        self.next_id.set(id);
        self.items.borrow_mut().insert(id, item);
        id
    }

    /// How many items are kept.
    pub fn len(&self) -> usize {
        self.items.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.borrow().is_empty()
    }

    pub fn remove(&self, id: u32) -> Option<T> {
        self.items.borrow_mut().remove(&id)
    }

    /// Runs `f` on the item with `id`; `f` must not use this table.
    pub fn with<R>(&self, id: u32, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        self.items.borrow_mut().get_mut(&id).map(f)
    }

    /// Keeps only the items for which `keep` holds.
    pub fn retain(&self, mut keep: impl FnMut(&T) -> bool) {
        self.items.borrow_mut().retain(|_, item| keep(item));
    }
}
