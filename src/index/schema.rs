//! The tantivy schema: a text field per language (plus a folded one) for the feedback text and
//! for its resolution, and the fields filters, facets and ordering use.

use tantivy::schema::{
    FAST, FacetOptions, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema,
    TextFieldIndexing, TextOptions,
};

use crate::text::analyzer;

/// Bump when the schema or the analyzers change: an index of another version is rebuilt.
pub const SCHEMA_VERSION: u32 = 2;

/// The text fields of one source (feedback text or resolution), one per analyzer.
#[derive(Debug, Clone, Copy)]
pub struct TextFields {
    pub ru: Field,
    pub uk: Field,
    pub sl: Field,
    pub folded: Field,
}

impl TextFields {
    /// (field, tokenizer name) pairs.
    pub fn all(&self) -> [(Field, &'static str); 4] {
        [
            (self.ru, analyzer::RU),
            (self.uk, analyzer::UK),
            (self.sl, analyzer::SL),
            (self.folded, analyzer::FOLDED),
        ]
    }

    /// The field(s) a text in `language` is indexed into, besides the folded one: its own, or
    /// all three when the language is undetermined.
    pub fn for_language(&self, language: &str) -> Vec<(Field, &'static str)> {
        match language {
            "ru" => vec![(self.ru, analyzer::RU)],
            "uk" => vec![(self.uk, analyzer::UK)],
            "sl" => vec![(self.sl, analyzer::SL)],
            _ => vec![
                (self.ru, analyzer::RU),
                (self.uk, analyzer::UK),
                (self.sl, analyzer::SL),
            ],
        }
    }
}

#[derive(Debug, Clone)]
pub struct Fields {
    pub schema: Schema,
    pub id: Field,
    pub text: TextFields,
    pub resolution: TextFields,
    pub customer_id: Field,
    pub kind: Field,
    pub language: Field,
    pub channel: Field,
    pub topic: Field,
    pub flag: Field,
    pub priority: Field,
    /// Microseconds since the epoch.
    pub created_at: Field,
    pub has_resolution: Field,
    /// Priority rank and creation time in one number, for "most urgent, then newest".
    pub priority_key: Field,
}

pub const CREATED_AT: &str = "created_at";
pub const PRIORITY_KEY: &str = "priority_key";
pub const LANGUAGE: &str = "language";
pub const TOPIC: &str = "topic";
pub const FLAG: &str = "flag";
pub const CHANNEL: &str = "channel";

fn text_options(tokenizer: &str) -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    )
}

fn text_fields(builder: &mut tantivy::schema::SchemaBuilder, prefix: &str) -> TextFields {
    TextFields {
        ru: builder.add_text_field(&format!("{prefix}_ru"), text_options(analyzer::RU)),
        uk: builder.add_text_field(&format!("{prefix}_uk"), text_options(analyzer::UK)),
        sl: builder.add_text_field(&format!("{prefix}_sl"), text_options(analyzer::SL)),
        folded: builder.add_text_field(&format!("{prefix}_folded"), text_options(analyzer::FOLDED)),
    }
}

pub fn build() -> Fields {
    let mut builder = Schema::builder();
    let id = builder.add_text_field("id", STRING | STORED);
    let text = text_fields(&mut builder, "text");
    let resolution = text_fields(&mut builder, "resolution");
    let customer_id = builder.add_text_field("customer_id", STRING);
    let kind = builder.add_text_field("kind", STRING);
    let language = builder.add_facet_field(LANGUAGE, FacetOptions::default());
    let channel = builder.add_facet_field(CHANNEL, FacetOptions::default());
    let topic = builder.add_facet_field(TOPIC, FacetOptions::default());
    let flag = builder.add_facet_field(FLAG, FacetOptions::default());
    let priority = builder.add_u64_field("priority", INDEXED);
    let created_at = builder.add_i64_field(CREATED_AT, INDEXED | FAST);
    let has_resolution = builder.add_u64_field("has_resolution", INDEXED);
    let priority_key = builder.add_u64_field(PRIORITY_KEY, FAST);
    Fields {
        schema: builder.build(),
        id,
        text,
        resolution,
        customer_id,
        kind,
        language,
        channel,
        topic,
        flag,
        priority,
        created_at,
        has_resolution,
        priority_key,
    }
}

/// "Most urgent first, then newest" as one descending number: the priority rank (P1 = 4 …
/// P4 = 1, unset = 0) above the creation second.
pub fn priority_key(priority: u8, created_at_seconds: i64) -> u64 {
    let rank = match priority {
        1..=4 => u64::from(5 - priority),
        _ => 0,
    };
    (rank << 40) | (created_at_seconds.clamp(0, (1 << 40) - 1) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_outranks_time() {
        assert!(priority_key(1, 0) > priority_key(2, 4_000_000_000));
        assert!(priority_key(2, 2) > priority_key(2, 1));
        assert!(priority_key(4, 0) > priority_key(0, 4_000_000_000));
    }
}
