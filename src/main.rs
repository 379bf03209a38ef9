//! The `snf-occi` command: `serve` (default), `check-config`, and with the
//! default `simulator` feature `simulator`.
//!
//! The embedded Synnefo simulator is reached only from here, through the
//! [`embedded`] module: the library never imports it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use snf_occi::config::{
    Config, ConfigError, DEFAULT_CONFIG_FILE, LogConfig, LogFormat, MAX_WORKERS,
};
use snf_occi::middleware::BoxHttp;
use snf_occi::pipeline::{BuildContext, Registry, SimulatorUrls};
use snf_occi::server::{Server, shutdown_signal};

// glibc's malloc and free were a fifth of the instructions of a request
// (callgrind, benches/README.md); mimalloc's thread-local free lists make
// the many small, short-lived allocations of a request cheap. Without
// transparent huge pages (`no_thp`): with them its arenas put 17 MiB more
// in RSS at start and 1 KiB more per idle connection than glibc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Giving back the memory of large Synnefo answers once they stop coming.
///
/// mimalloc keeps a thread's freed pages until that thread allocates
/// again, so the peak of a burst of large answers would otherwise stay in
/// RSS while the gateway is idle: each worker thread collects
/// (`mi_collect`) when it goes idle after large answers. Not after each
/// one: a 10,000-server listing then faulted its 20-odd MB back in every
/// time, a third of its CPU (benches/README.md). A worker collects once
/// no large answer has come for [`QUIET`], and [`trimmer`] wakes the
/// workers then, so an idle gateway gives the memory back.
mod memory {
    use std::cell::Cell;
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    use std::time::{Duration, Instant};

    use tokio::sync::Notify;

    /// How long without a large answer before the workers collect: more
    /// than the gap between the listings of a client polling or paging.
    pub const QUIET: Duration = Duration::from_millis(500);

    /// Large answers dropped so far.
    static LARGE_ANSWERS: AtomicU64 = AtomicU64::new(0);
    /// When the last one was dropped (ms since [`epoch`]).
    static LAST_AT: AtomicU64 = AtomicU64::new(0);
    /// Wakes [`trimmer`] after a large answer.
    static LARGE: Notify = Notify::const_new();

    thread_local! {
        /// The count of large answers this worker last collected at.
        static COLLECTED_AT: Cell<u64> = const { Cell::new(0) };
    }

    fn epoch() -> Instant {
        static EPOCH: OnceLock<Instant> = OnceLock::new();
        *EPOCH.get_or_init(Instant::now)
    }

    fn now_ms() -> u64 {
        epoch().elapsed().as_millis() as u64
    }

    /// Since the last large answer was dropped.
    fn quiet_for() -> Duration {
        Duration::from_millis(now_ms().saturating_sub(LAST_AT.load(Relaxed)))
    }

    /// The transport's hook after a large answer is dropped
    /// (`set_memory_trim`): counts it, notes when, wakes [`trimmer`].
    pub fn note_large_answer() {
        LAST_AT.store(now_ms(), Relaxed);
        LARGE_ANSWERS.fetch_add(1, Relaxed);
        LARGE.notify_one();
    }

    /// On a worker thread going idle: gives its freed pages back to the
    /// system if large answers were freed since it last did and none
    /// came for [`QUIET`].
    #[allow(unsafe_code)]
    pub fn collect_when_idle() {
        let large = LARGE_ANSWERS.load(Relaxed);
        if COLLECTED_AT.get() == large || quiet_for() < QUIET {
            return;
        }
        COLLECTED_AT.set(large);
        // SAFETY: mi_collect takes no pointer and only frees what
        // mimalloc already holds as free; `true` forces the collection.
        unsafe { libmimalloc_sys::mi_collect(true) }
    }

    /// Runs for the life of the server: once large answers have stopped
    /// for [`QUIET`], wakes the runtime's `workers` (a few empty tasks,
    /// which idle workers are woken to take), so that each parks again
    /// and collects, though no request comes.
    pub async fn trimmer(workers: usize) {
        loop {
            LARGE.notified().await;
            while let Some(left) = QUIET.checked_sub(quiet_for()).filter(|d| !d.is_zero()) {
                tokio::time::sleep(left).await;
            }
            for _ in 0..workers {
                tokio::spawn(tokio::task::yield_now());
            }
        }
    }
}

/// Exit status for a configuration that does not load or build.
const EXIT_CONFIG: u8 = 2;
/// Exit status for a failure at run time (cannot bind, ...).
const EXIT_RUNTIME: u8 = 1;

/// OCCI 1.2 server for Synnefo clouds, as a pipeline of Tower layers.
#[derive(Debug, Parser)]
#[command(name = "snf-occi", version, about)]
struct Cli {
    /// The pipeline configuration file.
    #[arg(long, short, global = true, value_name = "FILE", default_value = DEFAULT_CONFIG_FILE)]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the configured pipeline (the default).
    Serve,
    /// Load the configuration and build every filter and app, then exit:
    /// lists every error found, exits non-zero if there is one.
    CheckConfig,
    /// Run only the embedded Synnefo simulator, until SIGINT or SIGTERM.
    #[cfg(feature = "simulator")]
    Simulator,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    snf_occi::synnefo::transport::set_memory_trim(memory::note_large_answer);
    // The file is read once, before the runtime exists: its size is the
    // one setting needed that early. Errors are reported with the filters'
    // by the command, and meanwhile a wrong `server.workers` leaves the
    // default (one worker per core).
    let (early, _) = Config::load_partial(&cli.config);
    let workers = early
        .server
        .workers
        .filter(|n| (1..=MAX_WORKERS).contains(n));
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = workers {
        builder.worker_threads(n);
    }
    let runtime = match builder
        .enable_all()
        .on_thread_park(memory::collect_when_idle)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(&cli.config, early).await,
            Command::CheckConfig => check_config(&cli.config, early).await,
            #[cfg(feature = "simulator")]
            Command::Simulator => embedded::run_alone(&cli.config).await,
        }
    })
}

/// Prints every error to stderr, with a count.
fn report<E: std::fmt::Display>(errors: &[E]) -> ExitCode {
    for e in errors {
        eprintln!("error: {e}");
    }
    eprintln!(
        "{} configuration error(s); nothing was started",
        errors.len()
    );
    ExitCode::from(EXIT_CONFIG)
}

/// Loads the file and builds every filter and app, reporting every error
/// of both steps at once (a wrong `[server]` key does not hide a wrong
/// filter name), and those of the `[simulator]` table (`simulator`).
async fn load_and_build(
    path: &Path,
    simulator: Result<Option<SimulatorUrls>, Vec<ConfigError>>,
) -> Result<(Arc<Config>, BoxHttp), ExitCode> {
    let (config, load_errors) = Config::load_partial(path);
    let mut errors: Vec<String> = load_errors.iter().map(ToString::to_string).collect();
    // A file that is missing or not TOML has nothing to build: building the
    // defaults would only add noise to the real error.
    if load_errors.iter().any(|e| e.key.is_empty()) {
        return Err(report(&errors));
    }
    let simulator = simulator.unwrap_or_else(|wrong| {
        errors.extend(wrong.iter().map(ToString::to_string));
        None
    });
    let config = Arc::new(config);
    let mut ctx = match BuildContext::new(config.clone()) {
        Ok(ctx) => ctx,
        Err(e) => {
            errors.push(e.to_string());
            return Err(report(&errors));
        }
    };
    if let Some(sim) = simulator {
        ctx = ctx.with_simulator(sim);
    }
    match Registry::with_builtins().build_service(&ctx).await {
        Ok(service) if errors.is_empty() => Ok((config, service)),
        Ok(_) => Err(report(&errors)),
        Err(build) => {
            errors.extend(build.0.iter().map(ToString::to_string));
            Err(report(&errors))
        }
    }
}

fn init_logging(log: &LogConfig) {
    // `Config::load` validated the directive already.
    let filter =
        tracing_subscriber::EnvFilter::try_new(&log.level).unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, not in files or journald.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    // A second init (never in the binary) would only fail to replace the
    // global subscriber: nothing to do about it.
    let _ = match log.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Serves `path`'s pipeline; `early` is that file as read before the
/// build (logging and the simulator need it; errors are reported by
/// `load_and_build` below, all together).
async fn serve(path: &Path, early: Config) -> ExitCode {
    init_logging(&early.log);
    let workers = tokio::runtime::Handle::current().metrics().num_workers();
    tracing::info!(workers, "async runtime started");

    // The simulator starts first so that factories can default their
    // Synnefo endpoints to it; a wrong `[simulator]` table is reported
    // with the other configuration errors. `_running` (the simulator)
    // lives to the end of `serve`, past the drain.
    let (_running, simulator) = match embedded::start(&early).await {
        Ok(Some(running)) => {
            let urls = running.urls();
            (Some(running), Ok(Some(urls)))
        }
        Ok(None) => (None, Ok(None)),
        Err(embedded::StartError::Config(errors)) => (None, Err(errors)),
        Err(embedded::StartError::Listen(e)) => {
            eprintln!("error: `simulator.listen`: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    let (config, service) = match load_and_build(path, simulator).await {
        Ok(built) => built,
        Err(code) => return code,
    };
    // Nothing reads metrics unless a `metrics` filter or app was built:
    // then their labels are not worth building on every call.
    snf_occi_types::metrics::set_recording(snf_occi::pipeline::ops::prometheus_installed());
    tokio::spawn(memory::trimmer(workers));
    let server = match Server::bind(&config.server, service).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    let addr = match server.local_addr() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    // Handlers first: a SIGTERM right after the announcement must drain,
    // not kill.
    let signal = shutdown_signal();
    let scheme = if config.server.tls.is_some() {
        "https"
    } else {
        "http"
    };
    // The first stdout line: tests and scripts read the bound port here.
    println!("listening on {scheme}://{addr}");
    let _ = std::io::stdout().flush();
    tracing::info!(%addr, filters = ?config.pipeline.filters, app = %config.pipeline.app, "serving");
    if let Err(e) = server.serve(signal).await {
        eprintln!("error: {e}");
        return ExitCode::from(EXIT_RUNTIME);
    }
    ExitCode::SUCCESS
}

/// `[filter.X]` and `[app.X]` tables nothing refers to: often a typo in
/// `[pipeline]`, worth a warning (paste-deploy ignored them silently).
fn unused_tables(config: &Config) -> Vec<String> {
    let filters = config
        .filter
        .keys()
        .filter(|name| !config.pipeline.filters.contains(name))
        .map(|name| format!("filter.{name}"));
    let apps = config
        .app
        .keys()
        .filter(|name| **name != config.pipeline.app && !config.urlmap.values().any(|t| t == *name))
        .map(|name| format!("app.{name}"));
    filters.chain(apps).collect()
}

/// Checks `path` (`early`: that file as read before the build).
async fn check_config(path: &Path, early: Config) -> ExitCode {
    // The simulator is not started: factories only need to know where it
    // would be.
    let simulator = embedded::planned_urls(&early);
    let simulator_identity = simulator
        .as_ref()
        .ok()
        .and_then(|s| s.as_ref())
        .map(|s| s.identity_url.clone());
    match load_and_build(path, simulator).await {
        Ok((config, _)) => {
            for unused in unused_tables(&config) {
                eprintln!(
                    "warning: `{unused}` is configured but not used by [pipeline] or [urlmap]"
                );
            }
            println!(
                "{}: OK (filters: [{}], app: {}, mounts: {})",
                path.display(),
                config.pipeline.filters.join(", "),
                config.pipeline.app,
                config
                    .urlmap
                    .iter()
                    .map(|(p, t)| format!("{p} -> {t}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            // Where Synnefo is, and which file or variable said so: an
            // environment override shows here.
            match (&config.synnefo.identity_url, simulator_identity) {
                (Some(url), _) => println!(
                    "synnefo.identity_url: {url} (from {})",
                    config.sources.origin_of("synnefo.identity_url")
                ),
                (None, Some(url)) => {
                    println!("synnefo.identity_url: {url} (the embedded simulator's)")
                }
                (None, None) => {}
            }
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// The embedded Synnefo simulator (the `snf-occi-simulator` crate): the
/// only module of the gateway that names it, so that a build without the
/// `simulator` feature (below) carries none of it.
#[cfg(feature = "simulator")]
mod embedded {
    use std::io::Write;
    use std::net::SocketAddr;
    use std::path::Path;
    use std::process::ExitCode;

    use figment::Figment;
    use figment::providers::Serialized;
    use snf_occi::config::{Config, ConfigError};
    use snf_occi::pipeline::SimulatorUrls;
    use snf_occi::server::shutdown_signal;
    use snf_occi_simulator::{RunningSimulator, SimulatorConfig};

    use super::{EXIT_RUNTIME, init_logging, report};

    /// Why the simulator did not start.
    pub enum StartError {
        /// The `[simulator]` table is wrong.
        Config(Vec<ConfigError>),
        /// It could not listen.
        Listen(String),
    }

    /// A simulator serving in the background; dropping it stops it.
    pub struct Running(RunningSimulator);

    impl Running {
        /// Where the pipeline's factories find it.
        pub fn urls(&self) -> SimulatorUrls {
            SimulatorUrls {
                url: self.0.url(),
                identity_url: self.0.identity_url(),
                astavoms_url: self.0.astavoms_url(),
            }
        }
    }

    /// The `[simulator]` table of `config`, typed (as a factory's table is
    /// in `FactoryTable::deserialize`): every error names its key and
    /// where the value came from.
    fn table(config: &Config) -> Result<Option<SimulatorConfig>, Vec<ConfigError>> {
        let Some(raw) = &config.simulator else {
            return Ok(None);
        };
        Figment::from(Serialized::defaults(raw))
            .extract::<SimulatorConfig>()
            .map(Some)
            .map_err(|e| {
                let mut errors = ConfigError::from_figment(e, "simulator", &config.sources);
                for error in &mut errors {
                    // Read from a copy: ask the original where it came from.
                    error.origin = config.sources.origin_of(&error.key);
                }
                errors
            })
    }

    /// Starts the `[simulator]` of `config`, if it has one.
    pub async fn start(config: &Config) -> Result<Option<Running>, StartError> {
        let Some(sim) = table(config).map_err(StartError::Config)? else {
            return Ok(None);
        };
        let running = snf_occi_simulator::start(&sim)
            .await
            .map_err(|e| StartError::Listen(e.to_string()))?;
        tracing::info!(url = %running.url(), "embedded Synnefo simulator started");
        Ok(Some(Running(running)))
    }

    /// Where the `[simulator]` of `config` would serve, without starting
    /// it (`check-config`).
    pub fn planned_urls(config: &Config) -> Result<Option<SimulatorUrls>, Vec<ConfigError>> {
        Ok(table(config)?.map(|sim| {
            let url = format!("http://{}", sim.listen);
            SimulatorUrls {
                identity_url: format!("{url}/identity/v2.0"),
                astavoms_url: format!("{url}/astavoms"),
                url,
            }
        }))
    }

    /// `snf-occi simulator`: only the simulator, until SIGINT or SIGTERM.
    pub async fn run_alone(path: &Path) -> ExitCode {
        // The file is optional here: without one, the simulator runs on its
        // default port.
        let config = if path.is_file() {
            match Config::load(path) {
                Ok(c) => c,
                Err(errors) => return report(&errors.0),
            }
        } else {
            Config::default()
        };
        init_logging(&config.log);
        let sim_config = match table(&config) {
            Ok(Some(sim)) => sim,
            Ok(None) => SimulatorConfig::new(SocketAddr::from(([127, 0, 0, 1], 8890))),
            Err(errors) => return report(&errors),
        };
        let running = match snf_occi_simulator::start(&sim_config).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: `simulator.listen`: {e}");
                return ExitCode::from(EXIT_RUNTIME);
            }
        };
        let signal = shutdown_signal();
        println!("simulator listening on {}", running.url());
        println!("identity: {}", running.identity_url());
        println!("astavoms: {}", running.astavoms_url());
        let _ = std::io::stdout().flush();
        signal.await;
        tracing::info!(url = %running.url(), "simulator stopping");
        ExitCode::SUCCESS
    }
}

/// A build without the `simulator` feature: no simulator code, and a
/// `[simulator]` table is a configuration error that names the feature.
#[cfg(not(feature = "simulator"))]
mod embedded {
    use std::convert::Infallible;

    use snf_occi::config::{Config, ConfigError};
    use snf_occi::pipeline::SimulatorUrls;

    /// Why the simulator did not start.
    pub enum StartError {
        /// The configuration asks for it.
        Config(Vec<ConfigError>),
        /// Never in this build (the variant keeps `serve` the same).
        #[allow(dead_code)]
        Listen(String),
    }

    /// No simulator ever runs in this build.
    pub struct Running(Infallible);

    impl Running {
        /// Unreachable: there is no value of this type.
        pub fn urls(&self) -> SimulatorUrls {
            match self.0 {}
        }
    }

    fn refuse(config: &Config) -> Result<(), Vec<ConfigError>> {
        match config.simulator {
            None => Ok(()),
            Some(_) => Err(vec![ConfigError {
                origin: config.sources.origin_of("simulator"),
                key: "simulator".to_string(),
                reason: "this snf-occi was built without the `simulator` feature, so it has no \
                         embedded Synnefo simulator: remove the table and point the pipeline \
                         at a Synnefo, or build with the feature (it is on by default)"
                    .to_string(),
            }]),
        }
    }

    /// Refuses a `[simulator]` table.
    pub async fn start(config: &Config) -> Result<Option<Running>, StartError> {
        refuse(config).map_err(StartError::Config)?;
        Ok(None)
    }

    /// Refuses a `[simulator]` table.
    pub fn planned_urls(config: &Config) -> Result<Option<SimulatorUrls>, Vec<ConfigError>> {
        refuse(config).map(|()| None)
    }
}
