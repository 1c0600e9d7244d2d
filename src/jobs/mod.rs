//! Batch jobs: the OpenAI Batch API's pure parts (payloads sealed at rest, input files read and
//! checked, ids, OpenAI's File and Batch objects, output and error files) and the workers that run
//! the queue on idle capacity. The HTTP side is `gateway::batch_api`; the queue is in the store.

pub mod ids;
pub mod input;
pub mod objects;
pub mod output;
pub mod reply;
pub mod seal;
pub mod window;
pub mod worker;

pub use reply::{JobReply, ReplyError};
pub use seal::{Binding, SealError, Sealer};
