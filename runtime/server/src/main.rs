//! `orrery-runtime dev|serve`: the agent server.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Parser)]
#[command(
    name = "orrery-runtime",
    version,
    about = "An agent server that speaks the LangGraph Server API"
)]
struct Cli {
    #[command(subcommand)]
    command: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Development server: the bundled graphs (or a langgraph.json), SQLite under .orrery/.
    Dev(Args),
    /// Production server: same flags.
    Serve(Args),
}

#[derive(clap::Args)]
struct Args {
    /// Interface to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to listen on.
    #[arg(long, default_value_t = 2024)]
    port: u16,
    /// A project's langgraph.json: its graphs are served instead of the bundled ones
    /// (graph files and native:<name>; Python/TypeScript graphs are reported, not served).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Where the SQLite database lives.
    #[arg(long, default_value = ".orrery")]
    data_dir: PathBuf,
    /// Run workers (runs of different threads execute concurrently).
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// PostgreSQL to use instead of the SQLite file, e.g. postgres://user@host/db.
    #[arg(long, env = "DATABASE_URI", hide_env_values = true)]
    database_uri: Option<String>,
    /// Threads that serve requests and execute graphs (default: 1 for `dev`, one per CPU core
    /// for `serve`). Database connections have threads of their own.
    #[arg(long)]
    threads: Option<usize>,
}

fn main() {
    // RUST_LOG as a list of `level` and `target=level` directives (info without one). Not
    // tracing-subscriber's EnvFilter: its span and field filters bring a regex engine, a
    // quarter of a megabyte of code in the binary, which costs resident memory at every start.
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    tracing_subscriber::registry().with(tracing_subscriber::fmt::layer()).with(filter).init();
    let cli = Cli::parse();
    let (Mode::Dev(args) | Mode::Serve(args)) = &cli.command;
    // A local dev server does best on one thread: a run's work hops between tasks all the
    // time, and handing each hop to another thread costs more than the work (measured: 1,087
    // sequential runs/s on one thread, 725 on two).
    let threads = args.threads.unwrap_or(match cli.command {
        Mode::Dev(_) => 1,
        Mode::Serve(_) => std::thread::available_parallelism().map_or(1, usize::from),
    });
    let runtime = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build()
    };
    let result = match runtime {
        Ok(rt) => rt.block_on(run(cli)),
        Err(e) => Err(anyhow::anyhow!("cannot start the async runtime: {e}")),
    };
    if let Err(e) = result {
        eprintln!("orrery-runtime: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let dev = matches!(cli.command, Mode::Dev(_));
    let (Mode::Dev(args) | Mode::Serve(args)) = cli.command;
    let project = match &args.config {
        Some(path) => Some(orrery_graph_file::Project::load(path)?),
        None => None,
    };
    let addr = SocketAddr::new(args.host, args.port);
    let listener = orrery_runtime::bind(addr).await?;
    let options = orrery_runtime::Options {
        data_dir: args.data_dir,
        workers: args.workers,
        database_uri: args.database_uri,
    };
    let state = orrery_runtime::AppState::start_with(&options, project.as_ref()).await?;
    let graphs = state.registry.ids();
    match &project {
        Some(p) => {
            tracing::info!("project {}: serving {}", p.config_path.display(), graphs.join(", "))
        }
        None => tracing::info!("bundled graphs: {}", graphs.join(", ")),
    }
    // `dev` reloads a project's graph files when they change.
    let _watch = (dev && project.is_some())
        .then(|| state.registry.watch(std::time::Duration::from_millis(500)));
    tracing::info!("orrery-runtime listening on http://{}", listener.local_addr()?);
    orrery_runtime::serve(state, listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
