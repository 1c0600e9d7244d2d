//! Byte classes of a text, 64 bytes at a time, as bit masks (bit `i` stands for byte `i` of the
//! block): what the number pass needs to find digit runs without a branch per byte.
//!
//! The classes come from 16-byte vector compares (`wide`: SSE2 on x86_64, NEON on aarch64, a
//! portable fallback elsewhere), no run-time feature detection needed.

use wide::u8x16;

/// The bytes of one block that belong to each class the number pass reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Block {
    /// `0`–`9`.
    pub digit: u64,
    /// `a`–`z`.
    pub lower: u64,
    /// `A`–`Z`.
    pub upper: u64,
    /// `+`.
    pub plus: u64,
    /// A space.
    pub space: u64,
    /// `-`.
    pub dash: u64,
}

/// Bytes per block.
pub(super) const BLOCK: usize = 64;

/// The classes of the block of `bytes` that starts at `base`; bytes past the end belong to no class.
pub(super) fn block_at(bytes: &[u8], base: usize) -> Block {
    with_block(bytes, base, classify)
}

/// Only the digits of the block at `base`: enough to skip a block no number starts in.
pub(super) fn digits_at(bytes: &[u8], base: usize) -> u64 {
    with_block(bytes, base, |block| {
        block.chunks_exact(16).enumerate().fold(0, |mask, (lane, chunk)| {
            mask | in_range(vector(chunk), b'0', 9) << (lane * 16)
        })
    })
}

/// `f` of the 64 bytes at `base`, padded with zeros past the end.
fn with_block<R>(bytes: &[u8], base: usize, f: impl FnOnce(&[u8; BLOCK]) -> R) -> R {
    if let Some(full) = bytes
        .get(base..base + BLOCK)
        .and_then(|b| <&[u8; BLOCK]>::try_from(b).ok())
    {
        return f(full);
    }
    let mut block = [0u8; BLOCK];
    let rest = bytes.get(base..).unwrap_or_default();
    let len = rest.len().min(BLOCK);
    block[..len].copy_from_slice(&rest[..len]);
    f(&block)
}

/// The classes of the byte just before `base`, as bit 63 of a block (what the block before
/// `base` would say about its last byte).
pub(super) fn byte_before(bytes: &[u8], base: usize) -> Block {
    let Some(b) = base.checked_sub(1).and_then(|i| bytes.get(i)) else {
        return Block::default();
    };
    let bit = |yes: bool| u64::from(yes) << 63;
    Block {
        digit: bit(b.is_ascii_digit()),
        lower: bit(b.is_ascii_lowercase()),
        upper: bit(b.is_ascii_uppercase()),
        plus: bit(*b == b'+'),
        space: bit(*b == b' '),
        dash: bit(*b == b'-'),
    }
}

fn vector(chunk: &[u8]) -> u8x16 {
    let mut lanes = [0u8; 16];
    lanes.copy_from_slice(chunk);
    u8x16::new(lanes)
}

/// The bytes of `x` in `lo..=lo + span`, as a 16-bit mask.
fn in_range(x: u8x16, lo: u8, span: u8) -> u64 {
    let shifted = x - u8x16::splat(lo);
    u64::from(shifted.min(u8x16::splat(span)).simd_eq(shifted).to_bitmask())
}

/// The bytes of `x` equal to `b`, as a 16-bit mask.
fn equal(x: u8x16, b: u8) -> u64 {
    u64::from(x.simd_eq(u8x16::splat(b)).to_bitmask())
}

fn classify(block: &[u8; BLOCK]) -> Block {
    let mut out = Block::default();
    for (lane, chunk) in block.chunks_exact(16).enumerate() {
        let x = vector(chunk);
        let shift = lane * 16;
        out.digit |= in_range(x, b'0', 9) << shift;
        out.lower |= in_range(x, b'a', 25) << shift;
        out.upper |= in_range(x, b'A', 25) << shift;
        out.plus |= equal(x, b'+') << shift;
        out.space |= equal(x, b' ') << shift;
        out.dash |= equal(x, b'-') << shift;
    }
    out
}

/// The classification one byte at a time: what [`classify`] must agree with.
#[cfg(test)]
fn by_table(block: &[u8; BLOCK]) -> Block {
    let mut out = Block::default();
    for (i, b) in block.iter().enumerate() {
        let bit = 1u64 << i;
        match b {
            b'0'..=b'9' => out.digit |= bit,
            b'a'..=b'z' => out.lower |= bit,
            b'A'..=b'Z' => out.upper |= bit,
            b'+' => out.plus |= bit,
            b' ' => out.space |= bit,
            b'-' => out.dash |= bit,
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_and_bytes_agree_on_every_byte_in_every_lane() {
        for b in 0..=255u8 {
            for at in [0, 7, 8, 15, 16, 31, 40, 63] {
                let mut block = [b'x'; BLOCK];
                block[at] = b;
                block[(at + 33) % BLOCK] = 255 - b;
                assert_eq!(classify(&block), by_table(&block), "byte {b} at {at}");
            }
        }
    }

    #[test]
    fn a_short_tail_is_padded_with_no_class() {
        let text = b"ab 12+-";
        let block = block_at(text, 0);
        assert_eq!(block.digit, 0b11000);
        assert_eq!(block.lower, 0b11);
        assert_eq!((block.space, block.plus, block.dash), (0b100, 1 << 5, 1 << 6));
        assert_eq!(block_at(text, 64), Block::default());
        assert_eq!(digits_at(text, 0), block.digit);
        assert_eq!(byte_before(text, 3).space, 1 << 63);
        assert_eq!(byte_before(text, 0), Block::default());
    }
}
