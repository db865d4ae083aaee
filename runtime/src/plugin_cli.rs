//! `venue-edge plugin ...`: the vendor's tools. `check` loads a component the way the box
//! does (the same engine, limits and grants) and runs its world's conformance vectors
//! (conformance/README.md), printing a report a vendor can act on.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use sha2::Digest;
use venue_plugin_host::conformance::{self, Outcome, Samples};
use venue_plugin_host::manifest::{DEADLINE_MS_DEFAULT, MEMORY_BYTES_DEFAULT};
use venue_plugin_host::{Grant, Manifest, PluginHost, World, package};

#[derive(Subcommand)]
pub enum PluginCommand {
    /// Write a new plugin project into DIR: the contract's WIT (from this binary), a
    /// manifest, samples for the check, a build script and a README. `./build.sh` in it
    /// builds the component and checks it.
    New {
        /// gate-adapter, pos-adapter, ticketing-adapter, settlement-rule or payment-connector.
        #[arg(long, value_parser = parse_world)]
        world: World,
        #[arg(long, value_enum, default_value = "rust")]
        lang: crate::scaffold::Lang,
        /// A new folder; its name becomes the plugin's id.
        dir: PathBuf,
    },
    /// Check a component against its world's conformance vectors: each vector passes or
    /// fails, with what was expected, what came back, the call's time and any limit hit.
    /// Exits 0 only when every vector passes.
    Check {
        /// The component (`.wasm`).
        file: PathBuf,
        /// Its manifest: its limits, grants and config are used (and its sha256 pin
        /// checked). Without one: the defaults, and the host imports the component asks for.
        #[arg(long)]
        manifest: Option<PathBuf>,
        /// The vendor's payloads for the joint-test scenarios (`[samples]`, see
        /// conformance/README.md).
        #[arg(long)]
        samples: Option<PathBuf>,
        /// Print the report as JSON (for CI).
        #[arg(long)]
        json: bool,
    },
    /// Make a vendor's Ed25519 key pair: the private key goes to FILE (readable by its
    /// owner only); the line a venue adds to its `[plugins] trusted_keys` is printed.
    Keygen {
        /// The vendor's name, as its packages will say it.
        #[arg(long)]
        vendor: String,
        /// Where the private key goes; an existing file is never overwritten.
        #[arg(long)]
        out: PathBuf,
    },
    /// Pack a component and its manifest into one file (`.vpkg`), unsigned.
    Pack {
        /// The component (`.wasm`).
        file: PathBuf,
        /// Its manifest (`*.plugin.toml`): id, world, grants, limits, config. Its `wasm`
        /// and `sha256` are set to the component's.
        #[arg(long)]
        manifest: PathBuf,
        /// The vendor's name.
        #[arg(long)]
        vendor: String,
        /// The package to write (default: `<id>.vpkg` here).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Sign a package with the vendor's private key (in place).
    Sign {
        package: PathBuf,
        /// The key file `plugin keygen` wrote.
        #[arg(long)]
        key: PathBuf,
    },
    /// Verify a package's signature against the keys a venue trusts: those of a venue
    /// config (`--config`) or given as `--trust VENDOR=KEY`. Exits 0 only when it verifies.
    Verify {
        package: PathBuf,
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long = "trust", value_name = "VENDOR=KEY")]
        trust: Vec<String>,
    },
}

fn parse_world(s: &str) -> Result<World, String> {
    [
        World::GateAdapter,
        World::PosAdapter,
        World::TicketingAdapter,
        World::SettlementRule,
        World::PaymentConnector,
    ]
    .into_iter()
    .find(|w| w.as_str() == s)
    .ok_or_else(|| {
        "gate-adapter, pos-adapter, ticketing-adapter, settlement-rule or payment-connector".into()
    })
}

/// Runs a plugin command; the process's exit code.
pub async fn run(command: PluginCommand) -> anyhow::Result<i32> {
    match command {
        PluginCommand::New { world, lang, dir } => {
            let files = crate::scaffold::write(&dir, world, lang)?;
            println!(
                "{}: a {} plugin in {lang:?} ({} files). Next: cd {} && ./build.sh",
                dir.display(),
                world.as_str(),
                files.len(),
                dir.display()
            );
            Ok(0)
        }
        PluginCommand::Check {
            file,
            manifest,
            samples,
            json,
        } => {
            let report = check(&file, manifest.as_deref(), samples.as_deref()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.text());
            }
            Ok(if report.all_passed() { 0 } else { 1 })
        }
        PluginCommand::Keygen { vendor, out } => {
            let (private, public) = package::generate_key()?;
            write_private(&out, &private)?;
            println!("private key written to {} (keep it secret)", out.display());
            println!("a venue that trusts {vendor} adds under [plugins]:");
            println!("trusted_keys = [{{ vendor = {vendor:?}, key = {public:?} }}]");
            Ok(0)
        }
        PluginCommand::Pack {
            file,
            manifest,
            vendor,
            out,
        } => {
            let (bytes, info) = pack(&file, &manifest, &vendor).await?;
            let out =
                out.unwrap_or_else(|| PathBuf::from(format!("{}.{}", info.id, package::EXTENSION)));
            std::fs::write(&out, bytes)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
            println!(
                "{}: {} ({}, venue:edge@{}) by {}, unsigned; sign it with `venue-edge plugin sign`",
                out.display(),
                info.id,
                info.world,
                info.contract,
                info.vendor
            );
            Ok(0)
        }
        PluginCommand::Sign { package: path, key } => {
            let bytes = std::fs::read(&path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            let key_text = std::fs::read_to_string(&key)
                .map_err(|e| anyhow::anyhow!("cannot read the key file {}: {e}", key.display()))?;
            let signed = package::sign(&bytes, &key_text)?;
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, &signed).and_then(|_| std::fs::rename(&tmp, &path))?;
            let p = package::read(&signed)?;
            let sig = p
                .signature
                .as_ref()
                .map(|s| package::key_name(&s.vendor, &s.key));
            println!(
                "{}: signed by key {}",
                path.display(),
                sig.unwrap_or_default()
            );
            Ok(0)
        }
        PluginCommand::Verify {
            package: path,
            config,
            trust,
        } => {
            let mut keys = Vec::new();
            if let Some(config) = config {
                keys.extend(
                    venue_domain::config::Config::load(&config)?
                        .plugins
                        .trusted_keys,
                );
            }
            for t in &trust {
                let (vendor, key) = t
                    .split_once('=')
                    .ok_or_else(|| anyhow::anyhow!("--trust {t:?}: give VENDOR=KEY"))?;
                package::public_key(key)?;
                keys.push(package::TrustedKey {
                    vendor: vendor.to_owned(),
                    key: key.to_owned(),
                });
            }
            let bytes = std::fs::read(&path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            let p = package::read(&bytes)?;
            match p.verify(&keys) {
                Ok(key) => {
                    println!(
                        "{}: {} ({}, venue:edge@{}) by {}, signed by trusted key {}",
                        path.display(),
                        p.info.id,
                        p.info.world,
                        p.info.contract,
                        p.info.vendor,
                        package::key_name(&key.vendor, &key.key)
                    );
                    Ok(0)
                }
                Err(e) => {
                    println!("{}: REFUSED: {e}", path.display());
                    Ok(1)
                }
            }
        }
    }
}

/// Writes a private key readable by its owner only; never over an existing file.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    Ok(())
}

/// A package of `file` with `manifest`, by `vendor`: its world and contract version read
/// from the component itself.
pub async fn pack(
    file: &Path,
    manifest: &Path,
    vendor: &str,
) -> anyhow::Result<(Vec<u8>, package::Info)> {
    let wasm =
        std::fs::read(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    // The manifest's own `wasm` and `sha256` (perhaps not yet filled in) are replaced by
    // the component's.
    let text = std::fs::read_to_string(manifest)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", manifest.display()))?;
    let mut table: toml::Table =
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", manifest.display()))?;
    table.insert("wasm".into(), "plugin.wasm".into());
    table.insert(
        "sha256".into(),
        hex::encode(sha2::Sha256::digest(&wasm)).into(),
    );
    let m: Manifest = table
        .try_into()
        .map_err(|e| anyhow::anyhow!("{}: {e}", manifest.display()))?;
    m.validate()
        .map_err(|e| anyhow::anyhow!("{}: {e}", manifest.display()))?;
    let scratch = Scratch::new("pack")?;
    let seen = scratch.host.inspect(&wasm)?;
    let contract = seen
        .contract
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    if seen.world != Some(m.world) {
        anyhow::bail!(
            "the manifest says {}, but {} exports {}",
            m.world.as_str(),
            file.display(),
            seen.world.map_or("no venue:edge world", World::as_str)
        );
    }
    let info = package::Info {
        vendor: vendor.to_owned(),
        id: m.id.clone(),
        world: m.world.as_str().to_owned(),
        contract: contract.to_string(),
    };
    Ok((package::pack(&info, &m.to_toml(), &wasm)?, info))
}

/// What `plugin check` found.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub file: String,
    pub sha256: String,
    pub world: Option<&'static str>,
    pub contract: Option<String>,
    pub imports: Vec<String>,
    pub memory_bytes_max: u64,
    pub deadline_ms: u32,
    pub fuel: Option<u64>,
    /// Why the component could not be loaded, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    pub passed: usize,
    pub failed: usize,
    pub vectors: Vec<Outcome>,
}

impl Report {
    pub fn all_passed(&self) -> bool {
        self.refused.is_none() && self.failed == 0 && self.passed > 0
    }

    /// The report as a vendor reads it in a terminal.
    pub fn text(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let _ = writeln!(out, "plugin     {} (sha256 {})", self.file, self.sha256);
        let _ = writeln!(
            out,
            "world      {}, contract {}",
            self.world.unwrap_or("none found"),
            self.contract
                .as_deref()
                .map_or("refused".to_owned(), |v| format!("venue:edge@{v}"))
        );
        let _ = writeln!(out, "imports    {}", self.imports.join(", "));
        let _ = writeln!(
            out,
            "limits     memory {} MiB, deadline {} ms, fuel {}",
            self.memory_bytes_max / (1024 * 1024),
            self.deadline_ms,
            self.fuel.map_or("unlimited".into(), |f| f.to_string())
        );
        if let Some(why) = &self.refused {
            let _ = writeln!(out, "\nREFUSED    {why}");
            return out;
        }
        let mut table = comfy_table::Table::new();
        table.set_header(["", "group", "vector", "call", "ms", "limit"]);
        for v in &self.vectors {
            table.add_row([
                if v.pass { "pass" } else { "FAIL" }.to_owned(),
                v.group.clone(),
                v.name.clone(),
                v.call.clone(),
                format!("{:.2}", v.micros as f64 / 1000.0),
                v.limit.unwrap_or("").to_owned(),
            ]);
        }
        let _ = writeln!(out, "\n{table}");
        for v in self.vectors.iter().filter(|v| !v.pass) {
            let _ = writeln!(out, "\nFAIL {} / {} ({})", v.group, v.name, v.call);
            let _ = writeln!(out, "  expected: {}", v.expected);
            let _ = writeln!(out, "  got:      {}", v.got);
        }
        let _ = writeln!(
            out,
            "\n{} of {} vectors passed{}",
            self.passed,
            self.passed + self.failed,
            if self.failed == 0 {
                ""
            } else {
                "; see the failures above"
            }
        );
        out
    }
}

/// Loads `file` as the box would and runs its world's vectors.
pub async fn check(
    file: &Path,
    manifest: Option<&Path>,
    samples: Option<&Path>,
) -> anyhow::Result<Report> {
    let wasm =
        std::fs::read(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let samples = match samples {
        Some(path) => Samples::parse(&std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!("cannot read the samples file {}: {e}", path.display())
        })?)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
        None => Samples::default(),
    };
    let scratch = Scratch::new("check")?;
    check_with(&scratch.host, file, &wasm, manifest, &samples).await
}

async fn check_with(
    host: &PluginHost,
    file: &Path,
    wasm: &[u8],
    manifest: Option<&Path>,
    samples: &Samples,
) -> anyhow::Result<Report> {
    let seen = host.inspect(wasm)?;
    let manifest = match manifest {
        Some(path) => {
            let mut m = Manifest::load(path)?;
            m.wasm = file.to_owned();
            m
        }
        None => Manifest {
            id: file
                .file_stem()
                .map_or("plugin".into(), |s| s.to_string_lossy().into_owned()),
            world: seen.world.unwrap_or(World::GateAdapter),
            wasm: file.to_owned(),
            sha256: seen.sha256.clone(),
            grants: [Grant::Log, Grant::Clock, Grant::Config, Grant::Kv]
                .into_iter()
                .filter(|g| {
                    seen.imports
                        .iter()
                        .any(|i| i.split('@').next() == Some(g.interface()))
                })
                .collect(),
            memory_bytes_max: MEMORY_BYTES_DEFAULT,
            deadline_ms: DEADLINE_MS_DEFAULT,
            fuel: None,
            config: Default::default(),
            allowed_hosts: Vec::new(),
            ca_file: None,
            source: None,
        },
    };
    let mut report = Report {
        file: file.display().to_string(),
        sha256: seen.sha256.clone(),
        world: seen.world.map(World::as_str),
        contract: seen.contract.as_ref().ok().map(|v| v.to_string()),
        imports: seen.imports.clone(),
        memory_bytes_max: manifest.memory_bytes_max,
        deadline_ms: manifest.deadline_ms,
        fuel: manifest.fuel,
        refused: None,
        passed: 0,
        failed: 0,
        vectors: Vec::new(),
    };
    let Some(world) = seen.world else {
        report.refused = Some(format!(
            "it exports no interface of a venue:edge world (it exports: {})",
            seen.exports.join(", ")
        ));
        return Ok(report);
    };
    if manifest.world != world {
        report.refused = Some(format!(
            "its manifest says {}, but it exports the {} world",
            manifest.world.as_str(),
            world.as_str()
        ));
        return Ok(report);
    }
    let loaded = match host.install(manifest) {
        Ok(loaded) => loaded,
        Err(e) => {
            report.refused = Some(e.to_string());
            return Ok(report);
        }
    };
    let vectors = conformance::parse_vectors(conformance::vectors_of(world))
        .map_err(|e| anyhow::anyhow!("the {} vectors: {e}", world.as_str()))?;
    report.vectors = conformance::run(&loaded, &vectors, samples).await;
    report.passed = report.vectors.iter().filter(|v| v.pass).count();
    report.failed = report.vectors.len() - report.passed;
    Ok(report)
}

/// A plugin host of the command's own, as a box builds it, with its compile cache in a
/// temporary folder removed when the command ends.
struct Scratch {
    host: PluginHost,
    cache: PathBuf,
    // Failures go here and are reported through each call's result instead.
    _failures: tokio::sync::mpsc::Receiver<venue_model::alert::Alert>,
}

impl Scratch {
    fn new(what: &str) -> anyhow::Result<Scratch> {
        let cache = std::env::temp_dir().join(format!("venue-edge-{what}-{}", std::process::id()));
        let (alerts, failures) = tokio::sync::mpsc::channel(64);
        let host = PluginHost::new(
            &cache,
            None,
            venue_model::clock::Clock::new(chrono_tz::Asia::Shanghai),
            alerts,
        )?;
        Ok(Scratch {
            host,
            cache,
            _failures: failures,
        })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.cache);
    }
}
