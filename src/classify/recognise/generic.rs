//! Errors of no particular client: boxes, `std::io::Error`, tower's
//! timeout, the crate's own refusals ([`CircuitOpen`], [`Throttled`],
//! [`QuotaExhausted`]).

use std::any::Any;
use std::error::Error;
use std::io;

use super::{downcast, ErrorClass};
use crate::circuit_breaker::CircuitOpen;
use crate::pace::QuotaExhausted;
use crate::throttle::Throttled;

pub(super) fn as_error(error: &dyn Any) -> Option<&(dyn Error + 'static)> {
    if let Some(boxed) = error.downcast_ref::<tower::BoxError>() {
        return Some(&**boxed);
    }
    if let Some(boxed) = error.downcast_ref::<Box<dyn Error + Send + 'static>>() {
        return Some(&**boxed);
    }
    if let Some(boxed) = error.downcast_ref::<Box<dyn Error + 'static>>() {
        return Some(&**boxed);
    }
    downcast::<io::Error>(error)
        .or_else(|| downcast::<tower::timeout::error::Elapsed>(error))
        .or_else(|| downcast::<CircuitOpen>(error))
        .or_else(|| downcast::<Throttled>(error))
        .or_else(|| downcast::<QuotaExhausted>(error))
}

/// A refused connection, or a local address that cannot be had, proves the
/// request never left; the crate's own refusals ([`CircuitOpen`],
/// [`Throttled`], [`QuotaExhausted`]) are fatal: the loop ends at once, and no breaker counts
/// them.
/// Every other I/O error, tower's `Elapsed` included, proves nothing.
pub(super) fn classify(e: &(dyn Error + 'static)) -> Option<ErrorClass> {
    if e.is::<CircuitOpen>() || e.is::<Throttled>() || e.is::<QuotaExhausted>() {
        return Some(ErrorClass::Fatal);
    }
    match e.downcast_ref::<io::Error>()?.kind() {
        io::ErrorKind::ConnectionRefused | io::ErrorKind::AddrNotAvailable => {
            Some(ErrorClass::NeverSent)
        }
        _ => None,
    }
}
