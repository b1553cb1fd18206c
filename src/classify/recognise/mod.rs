//! What the crate knows about concrete error types: one recogniser per
//! client, each behind the cargo feature of that client, and a generic one
//! (`std::io`, tower's timeout, boxes, [`CircuitOpen`](crate::CircuitOpen)).
//!
//! A recogniser answers two questions, and the generic decision
//! ([`ErrorClass`]) only asks them:
//!
//! - `as_error`: is this value, known only as `Any`, one of my types? Then
//!   here it is as a `dyn Error` (the policy is generic over its error type,
//!   and Rust has no specialisation: a type is seen as an error only when
//!   someone knows it).
//! - `classify`: does this link of a `source()` chain prove something?
//!   `None` lets the walk go on to the link beneath.

use std::any::Any;
use std::error::Error;

use super::ErrorClass;

mod generic;
#[cfg(feature = "hyper")]
mod hyper;
#[cfg(feature = "hyper-util")]
mod hyper_util;
#[cfg(feature = "reqwest")]
mod reqwest;

/// An error value of a type known only as `Any`, seen as a `dyn Error` when
/// its type is one the crate knows: a boxed error, a generic type, or a
/// type of a client whose feature is on. Shared by the classification and
/// the classifier's view of an outcome.
pub(crate) fn as_error(error: &dyn Any) -> Option<&(dyn Error + 'static)> {
    if let Some(e) = generic::as_error(error) {
        return Some(e);
    }
    #[cfg(feature = "hyper-util")]
    if let Some(e) = hyper_util::as_error(error) {
        return Some(e);
    }
    #[cfg(feature = "hyper")]
    if let Some(e) = hyper::as_error(error) {
        return Some(e);
    }
    #[cfg(feature = "reqwest")]
    if let Some(e) = reqwest::as_error(error) {
        return Some(e);
    }
    None
}

/// What one link of a `source()` chain proves, asked of every recogniser;
/// their types are disjoint, so at most one answers.
pub(super) fn classify_link(error: &(dyn Error + 'static)) -> Option<ErrorClass> {
    if let Some(class) = generic::classify(error) {
        return Some(class);
    }
    #[cfg(feature = "hyper-util")]
    if let Some(class) = hyper_util::classify(error) {
        return Some(class);
    }
    #[cfg(feature = "hyper")]
    if let Some(class) = hyper::classify(error) {
        return Some(class);
    }
    #[cfg(feature = "reqwest")]
    if let Some(class) = reqwest::classify(error) {
        return Some(class);
    }
    None
}

/// `error` as a `dyn Error` if it is an `E`: the downcast every recogniser
/// (and every error type a user registers on a policy) is made of.
pub(crate) fn downcast<E: Error + 'static>(error: &dyn Any) -> Option<&(dyn Error + 'static)> {
    error
        .downcast_ref::<E>()
        .map(|e| e as &(dyn Error + 'static))
}
