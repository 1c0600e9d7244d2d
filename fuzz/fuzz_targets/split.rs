//! Shared by the stream-decoder targets: the input's first bytes choose a line limit and where
//! the rest is cut into chunks, so one input covers every way a network could deliver it.

/// The line limit, the body, and the chunks the body is cut into.
pub struct Split<'a> {
    /// `None` for the decoder's default limit, else a small limit so overlong lines get tested.
    pub max_line: Option<usize>,
    /// The bytes fed to the decoder.
    pub body: &'a [u8],
    /// `body` cut at the chosen points, in order; they concatenate back to `body`.
    pub chunks: Vec<&'a [u8]>,
}

/// Header: 1 byte for the limit, 1 byte for the number of cuts (0-15), 2 bytes per cut.
pub fn split(data: &[u8]) -> Option<Split<'_>> {
    let (&limit, rest) = data.split_first()?;
    let (&count, rest) = rest.split_first()?;
    let cuts_len = usize::from(count % 16) * 2;
    if rest.len() < cuts_len {
        return None;
    }
    let (cuts, body) = rest.split_at(cuts_len);
    let mut points: Vec<usize> = cuts
        .chunks_exact(2)
        .map(|c| usize::from(u16::from_le_bytes([c[0], c[1]])) % (body.len() + 1))
        .collect();
    points.sort_unstable();
    let mut chunks = Vec::with_capacity(points.len() + 1);
    let mut start = 0;
    for point in points {
        chunks.push(&body[start..point]);
        start = point;
    }
    chunks.push(&body[start..]);
    let max_line = (limit & 1 == 1).then(|| usize::from(limit >> 1) + 1);
    Some(Split { max_line, body, chunks })
}
