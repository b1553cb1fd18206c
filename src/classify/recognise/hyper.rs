//! `hyper::Error`, and the `h2::Error` beneath it (feature `hyper`).
//!
//! RFC 9113 §8.7: a stream the server reset with `REFUSED_STREAM`, or one
//! above the last-stream-id of a `GOAWAY`, was not processed, and may be
//! retried whatever its method. h2 reports the second as a remote go-away
//! error on each stream above the last-stream-id (and on every stream
//! opened after it). Only a graceful `GOAWAY` (`NO_ERROR`) proves that:
//! when a `GOAWAY` carries an error code, h2 fails the streams at or below
//! its last-stream-id (which the server may have processed) with the very
//! same error, so such an error stays ambiguous.

use std::any::Any;
use std::error::Error;

use h2::Reason;

use super::{downcast, ErrorClass};

pub(super) fn as_error(error: &dyn Any) -> Option<&(dyn Error + 'static)> {
    downcast::<::hyper::Error>(error).or_else(|| downcast::<h2::Error>(error))
}

pub(super) fn classify(e: &(dyn Error + 'static)) -> Option<ErrorClass> {
    if let Some(e) = e.downcast_ref::<::hyper::Error>() {
        // A user error: the request was malformed (or its own body failed);
        // sending it again cannot help.
        return e.is_user().then_some(ErrorClass::Fatal);
    }
    let e = e.downcast_ref::<h2::Error>()?;
    let refused = e.is_reset() && e.reason() == Some(Reason::REFUSED_STREAM);
    let graceful_go_away = e.is_go_away() && e.reason() == Some(Reason::NO_ERROR);
    (e.is_remote() && (refused || graceful_go_away)).then_some(ErrorClass::NeverSent)
}
