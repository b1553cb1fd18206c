//! The bytes of a body gathered while it is within the limit.

use bytes::{Bytes, BytesMut};

/// Data chunks gathered into one [`Bytes`]: a body of one chunk (the common
/// case for a small response) is kept as it came, without a copy; the
/// chunks of a longer one are copied once into a buffer sized from the
/// body's size hint. An empty body allocates nothing.
#[derive(Debug, Default)]
pub(super) struct Collect {
    first: Bytes,
    more: BytesMut,
    /// Bytes the body is expected to have (its size hint, within the limit).
    expected: usize,
}

impl Collect {
    pub(super) fn new(expected: usize) -> Self {
        Collect {
            first: Bytes::new(),
            more: BytesMut::new(),
            expected,
        }
    }

    /// Bytes gathered so far.
    pub(super) fn len(&self) -> usize {
        self.first.len() + self.more.len()
    }

    pub(super) fn push(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        if self.first.is_empty() && self.more.is_empty() {
            self.first = chunk;
            return;
        }
        if self.more.is_empty() {
            let first = std::mem::take(&mut self.first);
            let need = first.len() + chunk.len();
            self.more.reserve(self.expected.max(need));
            self.more.extend_from_slice(&first);
        }
        self.more.extend_from_slice(&chunk);
    }

    /// Everything gathered, as one `Bytes`.
    pub(super) fn finish(self) -> Bytes {
        if self.more.is_empty() {
            self.first
        } else {
            self.more.freeze()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_chunk_is_kept_without_copy() {
        let chunk = Bytes::from(vec![7u8; 100]);
        let ptr = chunk.as_ptr();
        let mut c = Collect::new(100);
        c.push(Bytes::new());
        c.push(chunk);
        assert_eq!(c.len(), 100);
        assert_eq!(c.finish().as_ptr(), ptr);
    }

    #[test]
    fn chunks_are_joined_in_order() {
        let mut c = Collect::new(0);
        for part in ["ab", "", "cde", "f"] {
            c.push(Bytes::from(part));
        }
        assert_eq!(c.len(), 6);
        assert_eq!(c.finish(), "abcdef");
        assert_eq!(Collect::new(10).finish(), Bytes::new());
    }
}
