/// How many attempts a response took: a response extension added by
/// [`RetryLayer`](crate::RetryLayer) to every response it returns.
///
/// `1` means the first attempt answered; `3` means two retries.
///
/// ```
/// use tower_http_retry::Attempts;
///
/// let mut response = http::Response::new(());
/// response.extensions_mut().insert(Attempts::new(2));
/// let attempts = response.extensions().get::<Attempts>().map(Attempts::get);
/// assert_eq!(attempts, Some(2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Attempts(u32);

impl Attempts {
    /// Wraps an attempt count.
    pub const fn new(attempts: u32) -> Self {
        Attempts(attempts)
    }

    /// The number of attempts made, the first included.
    pub const fn get(&self) -> u32 {
        self.0
    }
}
