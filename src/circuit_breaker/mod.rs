//! Circuit breaker (being built: see issue 4).

mod error;

pub use error::CircuitOpen;
