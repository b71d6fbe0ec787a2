//! What the stack-set emulator's parts share: moto read as the caller, the ledger of the
//! operations played, and the lock that keeps a set's creates one at a time.

use std::sync::{Arc, Mutex};

use super::moto::Moto;
use super::state::Ledger;

/// The emulator's state, shared by the calls under way and the answers they wait for.
pub(super) struct Inner {
    pub(super) moto: Moto,
    pub(super) ledger: Mutex<Ledger>,
    /// Held by a `CreateStackSet` until moto answers, so that a second delivery's finds the
    /// first one's set.
    pub(super) creating: Arc<tokio::sync::Mutex<()>>,
}
