//! Project tasks, run as `cargo xtask <task>`:
//!
//! - `plugins`: build every plugin in `plugins/` for `wasm32-wasip2`
//!   (into `target/wasm32-wasip2/plugin/`): the Rust ones with cargo, the JavaScript and
//!   Python ones with their `build.sh` (tools from npm and PyPI) when their sources changed;
//! - `demo [ARGS]`: build the plugins and the runtime, then run `venue-edge demo ARGS`;
//! - `test [ARGS]`: build the plugins and every binary, then run the whole test suite
//!   (`cargo test --workspace ARGS`);
//! - `bench [NAME ARGS]`: build in release and run the benchmarks (`venue-bench`), printing
//!   a table and appending to `target/bench/results.jsonl` (see BENCHMARKS.md).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, bail};

/// Plugin crates built to wasm: the reference plugins and the misbehaving test plugin.
const PLUGIN_CRATES: &[&str] = &[
    "plugin-std-json-gate",
    "plugin-line-gate",
    "plugin-std-json-pos",
    "plugin-ota-orders",
    "plugin-misbehave",
    "plugin-bank-transfer",
    "plugin-hotel-pms",
    "plugin-tiered-commission",
];

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let mut args = std::env::args().skip(1);
    let task = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    let root = workspace_root()?;
    match task.as_str() {
        "plugins" => {
            build_plugins(&root)?;
            Ok(ExitCode::SUCCESS)
        }
        "demo" => {
            build_plugins(&root)?;
            // The demo runs its simulated devices and bank as `venue-devices` processes.
            cargo(
                &root,
                &["build", "--bin", "venue-edge", "--bin", "venue-devices"],
            )?;
            let mut demo_args: Vec<String> = vec!["demo".into()];
            demo_args.extend(rest);
            let status = Command::new(root.join("target/debug/venue-edge"))
                .args(&demo_args)
                .current_dir(&root)
                .status()
                .context("cannot start venue-edge")?;
            Ok(exit(status.code()))
        }
        "test" => {
            build_plugins(&root)?;
            cargo(&root, &["build", "--bins"])?;
            let mut test_args: Vec<&str> = vec!["test", "--workspace"];
            test_args.extend(rest.iter().map(String::as_str));
            let status = Command::new(cargo_bin())
                .args(&test_args)
                .current_dir(&root)
                .status()
                .context("cannot run cargo test")?;
            Ok(exit(status.code()))
        }
        "bench" => {
            build_plugins(&root)?;
            cargo(&root, &["build", "--release", "--bins"])?;
            let status = Command::new(root.join("target/release/venue-bench"))
                .args(&rest)
                .current_dir(&root)
                .status()
                .context("cannot run venue-bench")?;
            Ok(exit(status.code()))
        }
        _ => {
            eprintln!("usage: cargo xtask <plugins | demo [ARGS] | test [ARGS] | bench [NAME]>");
            Ok(ExitCode::from(2))
        }
    }
}

fn build_plugins(root: &Path) -> anyhow::Result<()> {
    ensure_wasm_target(root)?;
    let mut args: Vec<&str> = vec!["build", "--target", "wasm32-wasip2", "--profile", "plugin"];
    for p in PLUGIN_CRATES {
        args.extend(["-p", p]);
    }
    cargo(root, &args).context(
        "building the plugins for wasm32-wasip2 (rust-toolchain.toml installs the target)",
    )?;
    for (dir, output, inputs) in OTHER_LANGUAGES {
        let out = root.join("target/wasm32-wasip2/plugin").join(output);
        let mut sources: Vec<PathBuf> = inputs.iter().map(|i| root.join(dir).join(i)).collect();
        sources.push(root.join("wit"));
        if !stale(&out, &sources) {
            continue;
        }
        eprintln!("xtask: building {dir} ({output})");
        let status = Command::new("bash")
            .arg(root.join(dir).join("build.sh"))
            .current_dir(root)
            .status()
            .with_context(|| format!("cannot run {dir}/build.sh"))?;
        if !status.success() {
            bail!("{dir}/build.sh failed (it needs node and npm, or python3 with venv)");
        }
    }
    Ok(())
}

/// The reference plugins in other languages: their folder, the component their
/// `build.sh` writes, and what it is built from (besides `wit/`).
const OTHER_LANGUAGES: &[(&str, &str, &[&str])] = &[
    (
        "plugins/js-gate",
        "plugin_js_gate.wasm",
        &["src", "build.sh", "package-lock.json"],
    ),
    (
        "plugins/py-pos",
        "plugin_py_pos.wasm",
        &["app.py", "build.sh", "requirements.txt"],
    ),
];

/// Whether `output` is missing or older than any file under `inputs`.
fn stale(output: &Path, inputs: &[PathBuf]) -> bool {
    fn newest(path: &Path) -> Option<std::time::SystemTime> {
        let meta = std::fs::metadata(path).ok()?;
        if meta.is_dir() {
            std::fs::read_dir(path)
                .ok()?
                .filter_map(|e| e.ok())
                .filter_map(|e| newest(&e.path()))
                .max()
        } else {
            meta.modified().ok()
        }
    }
    let Some(built) = std::fs::metadata(output).and_then(|m| m.modified()).ok() else {
        return true;
    };
    inputs.iter().filter_map(|i| newest(i)).any(|t| t > built)
}

/// rustup installs a `rust-toolchain.toml` target only together with the toolchain; on a
/// machine that already had 1.95.0 the target may be missing, so add it here.
fn ensure_wasm_target(root: &Path) -> anyhow::Result<()> {
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .current_dir(root)
        .output()
        .context("cannot run rustc")?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot.join("lib/rustlib/wasm32-wasip2").is_dir() {
        return Ok(());
    }
    eprintln!("xtask: adding the wasm32-wasip2 target (rustup target add wasm32-wasip2)");
    let status = Command::new("rustup")
        .args(["target", "add", "wasm32-wasip2"])
        .current_dir(root)
        .status()
        .context("cannot run rustup to add the wasm32-wasip2 target")?;
    if !status.success() {
        bail!("rustup target add wasm32-wasip2 failed");
    }
    Ok(())
}

fn cargo(root: &Path, args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new(cargo_bin())
        .args(args)
        .current_dir(root)
        .status()?;
    if !status.success() {
        bail!("cargo {} failed", args.join(" "));
    }
    Ok(())
}

fn cargo_bin() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn workspace_root() -> anyhow::Result<PathBuf> {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .map(Path::to_path_buf)
        .context("xtask has no parent folder")
}

fn exit(code: Option<i32>) -> ExitCode {
    ExitCode::from(code.unwrap_or(1).clamp(0, 255) as u8)
}
