//! What a simulated node's compatibility endpoint was asked: the shape of each request it could
//! read (model, tools, images, audio, format), never its text. Tests read it to see what a route
//! carried to the node, and when the node read each request and finished each whole answer, so
//! a bench can see how long a freed slot stays idle.

use std::collections::VecDeque;
use std::time::Instant;

/// Entries kept per node by default; older ones are dropped first.
pub const NODE_LOG_CAPACITY: usize = 1_000;

/// One chat request a node read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRequest {
    /// The model asked for, as sent.
    pub model: String,
    /// Whether it asked for a stream.
    pub stream: bool,
    /// Tools offered.
    pub tools: usize,
    /// Images across all messages.
    pub images: usize,
    /// Audio clips across all messages.
    pub audio: usize,
    /// `json_object` or `json_schema` when a response format was asked for.
    pub format: Option<&'static str>,
    /// When the node had read the request.
    pub received: Instant,
}

/// The bounded log of one node.
#[derive(Debug)]
pub(crate) struct NodeLog {
    entries: VecDeque<NodeRequest>,
    answers: VecDeque<Instant>,
    capacity: usize,
}

impl NodeLog {
    /// An empty log keeping the last `capacity` requests and answers (at least one).
    pub(crate) fn new(capacity: usize) -> Self {
        NodeLog {
            entries: VecDeque::new(),
            answers: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Records a request, dropping the oldest past the capacity.
    pub(crate) fn push(&mut self, request: NodeRequest) {
        if self.entries.len() >= self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(request);
    }

    /// Records that a whole (non-streamed) answer was generated and handed to the server now.
    pub(crate) fn answered(&mut self, at: Instant) {
        if self.answers.len() >= self.capacity {
            self.answers.pop_front();
        }
        self.answers.push_back(at);
    }

    /// When each recent whole answer was handed to the server, oldest first.
    pub(crate) fn answers(&self) -> Vec<Instant> {
        self.answers.iter().copied().collect()
    }

    /// Every entry, oldest first.
    pub(crate) fn entries(&self) -> Vec<NodeRequest> {
        self.entries.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_is_bounded() {
        let mut log = NodeLog::new(NODE_LOG_CAPACITY);
        for i in 0..=NODE_LOG_CAPACITY {
            log.push(NodeRequest {
                model: format!("m{i}"),
                stream: false,
                tools: 0,
                images: 0,
                audio: 0,
                format: None,
                received: Instant::now(),
            });
        }
        let entries = log.entries();
        assert_eq!(entries.len(), NODE_LOG_CAPACITY);
        assert_eq!(entries[0].model, "m1");
    }
}
