//! hyper-util's `client::legacy::Error` (feature `hyper-util`).

use std::any::Any;
use std::error::Error;

use hyper_util::client::legacy::Error as ClientError;

use super::{downcast, ErrorClass};

pub(super) fn as_error(error: &dyn Any) -> Option<&(dyn Error + 'static)> {
    downcast::<ClientError>(error)
}

/// A connect error never sent the request. The client's own refusals of a
/// malformed request (`UserAbsoluteUriRequired` for a relative URI,
/// `UserUnsupportedVersion`, `UserUnsupportedRequestMethod`) are fatal:
/// hyper-util asks no question for them, but they are exactly its errors
/// that are not connect errors and carry no `source()` (every error of a
/// request it tried to send wraps the hyper or connector error beneath).
/// Anything else is left to the links beneath (hyper, h2, `std::io`).
pub(super) fn classify(e: &(dyn Error + 'static)) -> Option<ErrorClass> {
    let e = e.downcast_ref::<ClientError>()?;
    if e.is_connect() {
        Some(ErrorClass::NeverSent)
    } else if e.source().is_none() {
        Some(ErrorClass::Fatal)
    } else {
        None
    }
}
