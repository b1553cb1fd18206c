//! `reqwest::Error` (feature `reqwest`).

use std::any::Any;
use std::error::Error;

use super::{downcast, ErrorClass};

pub(super) fn as_error(error: &dyn Any) -> Option<&(dyn Error + 'static)> {
    downcast::<::reqwest::Error>(error)
}

/// A connect error never sent the request; a builder error (a malformed
/// request: a relative URL, a bad header) and a redirect error (a loop, too
/// many redirects) are fatal. Anything else is left to the links beneath.
pub(super) fn classify(e: &(dyn Error + 'static)) -> Option<ErrorClass> {
    let e = e.downcast_ref::<::reqwest::Error>()?;
    if e.is_connect() {
        Some(ErrorClass::NeverSent)
    } else if e.is_builder() || e.is_redirect() {
        Some(ErrorClass::Fatal)
    } else {
        None
    }
}
