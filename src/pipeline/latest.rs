//! Keep-latest hand-off from a transport callback to an inference worker: a slot that holds
//! at most one item per source. Putting into a full slot replaces the waiting item and counts
//! it as dropped, so a slow network never builds a queue and always works on the newest frame.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

pub struct LatestSlot<T> {
    state: Mutex<SlotState<T>>,
    ready: Condvar,
}

struct SlotState<T> {
    item: Option<T>,
    dropped: u64,
    closed: bool,
}

impl<T> Default for LatestSlot<T> {
    fn default() -> Self {
        Self {
            state: Mutex::new(SlotState {
                item: None,
                dropped: 0,
                closed: false,
            }),
            ready: Condvar::new(),
        }
    }
}

impl<T> LatestSlot<T> {
    /// Stores `item`, replacing (and counting as dropped) any item not yet taken.
    pub fn put(&self, item: T) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.item.replace(item).is_some() {
            state.dropped += 1;
        }
        self.ready.notify_one();
    }

    /// Takes the waiting item, blocking up to `timeout`; `None` on timeout or once closed.
    pub fn take(&self, timeout: Duration) -> Option<T> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (mut state, _) = self
            .ready
            .wait_timeout_while(state, timeout, |s| s.item.is_none() && !s.closed)
            .unwrap_or_else(|e| e.into_inner());
        state.item.take()
    }

    /// Items replaced before a worker took them.
    pub fn dropped(&self) -> u64 {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).dropped
    }

    /// Wakes every waiting worker; later `take`s return what is left, then `None`.
    pub fn close(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
        self.ready.notify_all();
    }

    pub fn is_closed(&self) -> bool {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).closed
    }
}
