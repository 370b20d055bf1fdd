//! Text processing that knows nothing about gRPC or storage: normalization and language
//! identification.

pub mod language;
pub mod normalize;
