//! Keep-latest hand-off from transport callbacks to inference workers: one slot per source
//! (camera), each holding at most one frame. Putting into a full slot replaces the waiting
//! frame and counts it as dropped, so a slow network never builds a queue and always works on
//! the newest frame; workers take from the sources that have waited longest, several at once
//! when they batch frames of several cameras into one network call.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

pub struct LatestSlots<T> {
    state: Mutex<SlotsState<T>>,
    ready: Condvar,
}

struct SlotsState<T> {
    items: Vec<Option<T>>,
    /// Sources holding an item, in the order their item arrived.
    waiting: VecDeque<usize>,
    dropped: Vec<u64>,
    closed: bool,
}

impl<T> LatestSlots<T> {
    pub fn new(sources: usize) -> Self {
        Self {
            state: Mutex::new(SlotsState {
                items: (0..sources).map(|_| None).collect(),
                waiting: VecDeque::with_capacity(sources),
                dropped: vec![0; sources],
                closed: false,
            }),
            ready: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, SlotsState<T>> {
        // A worker that panicked mid-update cannot leave this state inconsistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores `item` for `source`, replacing (and counting as dropped) one not yet taken.
    pub fn put(&self, source: usize, item: T) {
        let mut state = self.lock();
        if state.items[source].replace(item).is_some() {
            state.dropped[source] += 1;
        } else {
            state.waiting.push_back(source);
        }
        self.ready.notify_one();
    }

    /// Takes up to `max` items (at most one per source, longest-waiting first), blocking up to
    /// `timeout` for the first; empty on timeout or once closed and drained.
    pub fn take(&self, timeout: Duration, max: usize) -> Vec<(usize, T)> {
        let state = self.lock();
        let (mut state, _) = self
            .ready
            .wait_timeout_while(state, timeout, |s| s.waiting.is_empty() && !s.closed)
            .unwrap_or_else(|e| e.into_inner());
        let n = max.min(state.waiting.len());
        let sources: Vec<usize> = state.waiting.drain(..n).collect();
        sources
            .into_iter()
            .filter_map(|source| state.items[source].take().map(|item| (source, item)))
            .collect()
    }

    /// Items of `source` replaced before a worker took them.
    pub fn dropped(&self, source: usize) -> u64 {
        self.lock().dropped[source]
    }

    /// Wakes every waiting worker; later `take`s return what is left, then `None`.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }
}
