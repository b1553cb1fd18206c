//! The state word: everything a call needs to be admitted, packed in one
//! `u64` so that admission is one atomic load (closed) or one
//! compare-and-swap (half-open).

use super::super::vocabulary::BreakerMode;

/// The state word: `epoch: 31 | succeeded: 15 | admitted: 15 | mode: 3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PackedState(pub(super) u64);

const MODE_BITS: u32 = 3;
const PROBE_BITS: u32 = 15;
pub(super) const PROBE_MASK: u64 = (1 << PROBE_BITS) - 1;
const EPOCH_SHIFT: u32 = MODE_BITS + 2 * PROBE_BITS;
/// Epochs wrap after 2^31 transitions; a call would have to stay in flight
/// across all of them to be mistaken for a current one.
pub(super) const EPOCH_MASK: u64 = (1 << (64 - EPOCH_SHIFT)) - 1;

impl PackedState {
    pub(super) fn new(mode: BreakerMode, epoch: u32) -> PackedState {
        PackedState((u64::from(epoch) & EPOCH_MASK) << EPOCH_SHIFT | mode as u64)
    }

    pub(super) fn mode(self) -> BreakerMode {
        match self.0 & ((1 << MODE_BITS) - 1) {
            0 => BreakerMode::Closed,
            1 => BreakerMode::Open,
            2 => BreakerMode::HalfOpen,
            3 => BreakerMode::ForcedOpen,
            _ => BreakerMode::ForcedClosed,
        }
    }

    pub(super) fn epoch(self) -> u32 {
        (self.0 >> EPOCH_SHIFT) as u32
    }

    pub(super) fn admitted(self) -> u32 {
        ((self.0 >> MODE_BITS) & PROBE_MASK) as u32
    }

    pub(super) fn succeeded(self) -> u32 {
        ((self.0 >> (MODE_BITS + PROBE_BITS)) & PROBE_MASK) as u32
    }

    pub(super) fn with_admitted(self, n: u32) -> PackedState {
        PackedState(self.0 & !(PROBE_MASK << MODE_BITS) | u64::from(n) << MODE_BITS)
    }

    pub(super) fn with_succeeded(self, n: u32) -> PackedState {
        let shift = MODE_BITS + PROBE_BITS;
        PackedState(self.0 & !(PROBE_MASK << shift) | u64::from(n) << shift)
    }

    pub(super) fn next(self, mode: BreakerMode) -> PackedState {
        PackedState::new(mode, self.epoch().wrapping_add(1))
    }
}
