//! Error types a user registered on a policy
//! ([`RetryPolicy::error_type`](crate::RetryPolicy::error_type)).

use std::any::{Any, TypeId};
use std::error::Error;
use std::fmt;

use super::recognise::downcast;
use super::{as_error, ErrorClass};

/// How to see a value known only as `Any` as a `dyn Error`, for one type.
type AsError = fn(&dyn Any) -> Option<&(dyn Error + 'static)>;

/// The error types a policy was taught, on top of those the crate knows.
#[derive(Clone, Default)]
pub(crate) struct ErrorTypes(Vec<(TypeId, AsError)>);

impl ErrorTypes {
    /// Teaches `E`: a value of that type is seen as an error from now on.
    pub(crate) fn register<E: Error + 'static>(&mut self) {
        let id = TypeId::of::<E>();
        // Registering a type twice must not make every lookup longer.
        if !self.0.iter().any(|(known, _)| *known == id) {
            self.0.push((id, downcast::<E>));
        }
    }

    /// [`as_error`] (the types the crate knows), then the registered types.
    pub(crate) fn as_error<'a>(&self, error: &'a dyn Any) -> Option<&'a (dyn Error + 'static)> {
        as_error(error).or_else(|| self.0.iter().find_map(|(_, as_error)| as_error(error)))
    }

    /// [`ErrorClass::of`], seeing the registered types too.
    pub(crate) fn class_of<E: Any>(&self, error: &E) -> ErrorClass {
        match self.as_error(error) {
            Some(e) => ErrorClass::from_error(e),
            None => ErrorClass::Ambiguous,
        }
    }
}

impl fmt::Debug for ErrorTypes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} registered", self.0.len())
    }
}
