//! Response bodies read before the decision: [`BufferResponseLayer`] and
//! [`BufferedBody`].

mod body;
mod collect;
pub(super) mod future;
mod layer;
mod service;

pub use self::body::BufferedBody;
pub use self::layer::BufferResponseLayer;
pub use self::service::BufferResponse;
