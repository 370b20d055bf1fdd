//! Text processing that knows nothing about gRPC or storage: normalization, language
//! identification, and the analyzers (tokenizers and stemmers) the index uses.

pub mod analyzer;
pub mod language;
pub mod lexicon;
pub mod normalize;
pub mod stem_sl;
