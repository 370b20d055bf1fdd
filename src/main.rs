//! The `triage` command line: `serve` runs the service, `import` streams a JSONL file into it.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use indicatif::{ProgressBar, ProgressStyle};
use triage::cli::import::{self, ImportArgs};
use triage::cli::report::ReportArgs;
use triage::cli::review::ReviewArgs;
use triage::cli::search::SearchArgs;
use triage::config::{ServeArgs, Settings};
use triage::server;
use triage::store::{Store, StoreOptions};

// glibc's malloc fragments over hours of ingest: in a long-running server its free-list work
// (`_int_malloc`, `malloc_consolidate`) cost about 50 µs more per imported item than in a fresh
// process on the same store (docs/PERFORMANCE.md, session 11). mimalloc keeps per-thread pages
// and does not have that slow path; it builds from C with `cc`, like the bundled SQLite. Its
// `override` feature makes it the C code's `malloc` too: SQLite's page cache and statements had
// stayed on glibc's, whose free-list work grew from 5.6 to 13 samples per thousand items between
// 10k and 1M stored (docs/PERFORMANCE.md, session 14).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "triage",
    version,
    about = "Customer feedback triage for ru / uk / sl"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log lines as human-readable text or as JSON objects (one per line).
    #[arg(
        long,
        global = true,
        env = "TRIAGE_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    log_format: LogFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gRPC service.
    Serve(ServeArgs),
    /// Stream a JSON Lines file of feedback into a running server.
    Import(ImportArgs),
    /// Search the knowledge base of a running server.
    Search(SearchArgs),
    /// Work a review queue: list, claim, resolve, release, events.
    Review(ReviewArgs),
    /// Print the NPS / CSAT / CES report of a period as a table or CSV.
    Report(ReportArgs),
    /// Rebuild the search index from the store (with the server stopped).
    Reindex {
        /// Directory holding the database and the index.
        #[arg(long, env = "TRIAGE_DATA_DIR", default_value = "./triage-data")]
        data_dir: PathBuf,
    },
    /// Measure the text components on labelled data.
    #[command(subcommand)]
    Eval(EvalCommand),
}

#[derive(Subcommand)]
enum EvalCommand {
    /// Language identification on a directory laid out like ../shared/data/langid/.
    Langid {
        /// Directory with {ru,uk,sl}-{sentences,word-pairs,single-words}.txt and other/.
        dir: PathBuf,
    },
    /// Precision and recall of the suspicion flags and topics on a labelled JSONL set.
    Flags {
        /// Labelled set, such as tests/fixtures/flags.jsonl.
        file: PathBuf,
        /// A directory of lexicon overrides ({ru,uk,sl}.toml).
        #[arg(long)]
        lexicon_dir: Option<PathBuf>,
    },
    /// Precision and recall of near-duplicate detection on a seeded labelled set, for a sweep
    /// of shingle sizes, LSH bandings and thresholds.
    Dedup {
        /// Base texts per language (each gets four edited variants).
        #[arg(long, default_value_t = 1000)]
        bases: usize,
        /// Build base texts from real sentences in DIR/{ru,uk,sl}-sentences.txt
        /// (such as ../shared/data/langid) instead of generated word sequences.
        #[arg(long)]
        sentences: Option<PathBuf>,
    },
    /// Stemmer conflation on form/lemma lists (ru.tsv, sl.tsv, …), printed side by side.
    Stemmer {
        /// `form<TAB>lemma<TAB>upos` files named after their language.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn init_logging(format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("TRIAGE_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let settings = Settings::resolve(&args)?;
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, data_dir = %settings.data_dir.display(), "serving");
    // Tests and scripts read the bound address (useful with port 0) from this line.
    println!("triage listening on {address}");
    std::io::stdout().flush()?;
    server::serve(settings, listener, server::termination_signal()).await?;
    Ok(())
}

async fn run_import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let summary = import::run(&args).await?;
    println!(
        "created {}, already existed {}, rejected {}",
        summary.created,
        summary.already_existed,
        summary.rejected.len()
    );
    for (line, reason) in &summary.rejected {
        println!("  line {line}: {reason}");
    }
    if summary.unanswered > 0 {
        println!(
            "{} lines were sent but not answered; run the import again",
            summary.unanswered
        );
    }
    Ok(if summary.rejected.is_empty() && summary.unanswered == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn reindex(data_dir: &std::path::Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        data_dir.join(triage::store::DATABASE_FILE).exists(),
        "no database in {}",
        data_dir.display()
    );
    let store = Store::open(data_dir, StoreOptions::default()).await?;
    let progress = ProgressBar::new_spinner()
        .with_style(ProgressStyle::with_template("{spinner} {msg} ({elapsed})")?);
    let total = store.feedback_count().await?;
    let reporter = progress.clone();
    let indexed = triage::index::rebuild(data_dir, &store, move |done| {
        reporter.set_message(format!("{done} changes of {total} items indexed"));
        reporter.tick();
    })
    .await;
    progress.finish_and_clear();
    store.close().await?;
    println!(
        "reindexed {} items into {}",
        indexed?,
        data_dir.join(triage::index::INDEX_DIR).display()
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match cli.command {
        Command::Serve(args) => serve(args).await.map(|()| ExitCode::SUCCESS),
        Command::Import(args) => run_import(args).await,
        Command::Report(args) => {
            print!("{}", triage::cli::report::run(&args).await?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Search(args) => {
            print!("{}", triage::cli::search::run(&args).await?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Review(args) => {
            print!("{}", triage::cli::review::run(&args).await?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Reindex { data_dir } => reindex(&data_dir).await.map(|()| ExitCode::SUCCESS),
        Command::Eval(EvalCommand::Langid { dir }) => {
            print!("{}", triage::eval::langid::evaluate(&dir)?.render());
            Ok(ExitCode::SUCCESS)
        }
        Command::Eval(EvalCommand::Flags { file, lexicon_dir }) => {
            let lexicons = triage::signals::lexicons::Lexicons::load(lexicon_dir.as_deref())?;
            print!(
                "{}",
                triage::eval::flags::evaluate(&file, &lexicons)?.render()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Eval(EvalCommand::Dedup { bases, sentences }) => {
            print!(
                "{}",
                triage::eval::dedup::evaluate(bases, sentences.as_deref())?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Eval(EvalCommand::Stemmer { files }) => {
            let reports = files
                .iter()
                .map(|f| triage::eval::stemmer::evaluate(f))
                .collect::<Result<Vec<_>, _>>()?;
            print!("{}", triage::eval::stemmer::render(&reports));
            Ok(ExitCode::SUCCESS)
        }
    }
}
