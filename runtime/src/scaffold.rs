//! `venue-edge plugin new`: a vendor's new plugin project, buildable as written and
//! passing `venue-edge plugin check`. The WIT it builds against is the text this binary
//! was built from, so the project matches the host that checks it. The templates are in
//! runtime/scaffold/ (README there).

use std::path::{Path, PathBuf};

use venue_plugin_host::World;
use venue_plugin_host::version::CURRENT;

/// The languages a project can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Rust,
    Js,
    Python,
}

const WIT: &[(&str, &str)] = &[
    ("host.wit", include_str!("../../wit/host.wit")),
    ("types.wit", include_str!("../../wit/types.wit")),
    ("worlds.wit", include_str!("../../wit/worlds.wit")),
];

/// The world's interface, as its `export` names it.
fn interface(world: World) -> &'static str {
    match world {
        World::GateAdapter => "gate",
        World::PosAdapter => "pos",
        World::TicketingAdapter => "ticketing",
        World::SettlementRule => "rules",
        World::PaymentConnector => "connector",
    }
}

fn rust_source(world: World) -> &'static str {
    match world {
        World::GateAdapter => include_str!("../scaffold/rust/gate-adapter.rs"),
        World::PosAdapter => include_str!("../scaffold/rust/pos-adapter.rs"),
        World::TicketingAdapter => include_str!("../scaffold/rust/ticketing-adapter.rs"),
        World::SettlementRule => include_str!("../scaffold/rust/settlement-rule.rs"),
        World::PaymentConnector => include_str!("../scaffold/rust/payment-connector.rs"),
    }
}

fn samples(world: World) -> &'static str {
    match world {
        World::GateAdapter => include_str!("../scaffold/samples/gate-adapter.toml"),
        World::PosAdapter => include_str!("../scaffold/samples/pos-adapter.toml"),
        World::TicketingAdapter => include_str!("../scaffold/samples/ticketing-adapter.toml"),
        World::SettlementRule | World::PaymentConnector => {
            include_str!("../scaffold/samples/none.toml")
        }
    }
}

/// The project's name from its folder: lowercase letters, digits and dashes, starting
/// with a letter (it names the crate or package and the plugin's id).
pub fn project_name(dir: &Path) -> Result<String, String> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && name.len() <= 64;
    if ok {
        Ok(name)
    } else {
        Err(format!(
            "{name:?}: name the folder with lowercase letters, digits and dashes, starting with a letter (it becomes the plugin's id)"
        ))
    }
}

/// The files of a new project: (path inside the project, contents, executable).
pub fn files(name: &str, world: World, lang: Lang) -> Result<Vec<(PathBuf, String, bool)>, String> {
    let crate_name = name.replace('-', "_");
    let (wasm, lang_files): (String, Vec<(&str, &str, bool)>) = match lang {
        Lang::Rust => (
            format!("target/wasm32-wasip2/release/{crate_name}.wasm"),
            vec![
                (
                    "Cargo.toml",
                    include_str!("../scaffold/rust/Cargo.toml"),
                    false,
                ),
                ("src/lib.rs", rust_source(world), false),
                ("build.sh", include_str!("../scaffold/rust/build.sh"), true),
                (".gitignore", "target/\n", false),
            ],
        ),
        Lang::Js | Lang::Python => {
            let source = match (lang, world) {
                (Lang::Js, World::GateAdapter) => include_str!("../scaffold/js/gate-adapter.js"),
                (Lang::Js, World::PosAdapter) => include_str!("../scaffold/js/pos-adapter.js"),
                (Lang::Js, World::TicketingAdapter) => {
                    include_str!("../scaffold/js/ticketing-adapter.js")
                }
                (Lang::Js, World::SettlementRule) => {
                    include_str!("../scaffold/js/settlement-rule.js")
                }
                (Lang::Js, World::PaymentConnector) => {
                    include_str!("../scaffold/js/payment-connector.js")
                }
                (_, World::GateAdapter) => include_str!("../scaffold/python/gate-adapter.py"),
                (_, World::PosAdapter) => include_str!("../scaffold/python/pos-adapter.py"),
                (_, World::TicketingAdapter) => {
                    include_str!("../scaffold/python/ticketing-adapter.py")
                }
                (_, World::SettlementRule) => {
                    include_str!("../scaffold/python/settlement-rule.py")
                }
                (_, World::PaymentConnector) => {
                    include_str!("../scaffold/python/payment-connector.py")
                }
            };
            let wasm = format!("dist/{name}.wasm");
            let files = if lang == Lang::Js {
                vec![
                    (
                        "package.json",
                        include_str!("../scaffold/js/package.json"),
                        false,
                    ),
                    ("src/plugin.js", source, false),
                    ("build.sh", include_str!("../scaffold/js/build.sh"), true),
                    (".gitignore", "node_modules/\ndist/\n", false),
                ]
            } else {
                vec![
                    (
                        "requirements.txt",
                        include_str!("../scaffold/python/requirements.txt"),
                        false,
                    ),
                    ("app.py", source, false),
                    (
                        "build.sh",
                        include_str!("../scaffold/python/build.sh"),
                        true,
                    ),
                    (".gitignore", ".venv/\ndist/\n__pycache__/\n", false),
                ]
            };
            (wasm, files)
        }
    };
    // What the JavaScript and Python builds' cut world imports (they import all of it).
    let imports = match world {
        World::PaymentConnector => "    import log;\n    import config;",
        _ => "    import log;",
    };
    let (grants, config) = match world {
        World::PaymentConnector => ("\"log\", \"config\"", "base_url = \"https://bank.example\""),
        _ => ("\"log\"", ""),
    };
    let mut manifest = include_str!("../scaffold/plugin.toml").to_owned();
    if world == World::PaymentConnector {
        manifest = manifest.replace(
            "\n[config]",
            "# The hosts the connector may reach; the box makes the HTTP calls for it.\nallowed_hosts = [\"bank.example\"]\n\n[config]",
        );
    }
    let fill = |text: &str| {
        text.replace("{{name}}", name)
            .replace("{{crate}}", &crate_name)
            .replace("{{world}}", world.as_str())
            .replace("{{interface}}", interface(world))
            .replace("{{contract}}", &CURRENT.to_string())
            .replace("{{wasm}}", &wasm)
            .replace("{{grants}}", grants)
            .replace("{{config}}", config)
            .replace("{{imports}}", imports)
    };
    let mut out: Vec<(PathBuf, String, bool)> = WIT
        .iter()
        .map(|(file, text)| (Path::new("wit").join(file), (*text).to_owned(), false))
        .collect();
    for (path, text, exec) in lang_files {
        out.push((PathBuf::from(path), fill(text), exec));
    }
    out.push((PathBuf::from("plugin.toml"), fill(&manifest), false));
    out.push((
        PathBuf::from("conformance.toml"),
        samples(world).to_owned(),
        false,
    ));
    out.push((PathBuf::from("README.md"), fill(&readme(lang)), false));
    Ok(out)
}

fn readme(lang: Lang) -> String {
    let (needs, edit) = match lang {
        Lang::Rust => (
            "Rust with the wasm32-wasip2 target (`rustup target add wasm32-wasip2`)",
            "src/lib.rs",
        ),
        Lang::Js => (
            "node and npm (componentize-js comes from npm)",
            "src/plugin.js",
        ),
        Lang::Python => (
            "python3 with venv (componentize-py comes from PyPI)",
            "app.py",
        ),
    };
    format!(
        "# {{{{name}}}}\n\nA `{{{{world}}}}` plugin for Venue Edge (contract `venue:edge@{{{{contract}}}}`, in `wit/`).\n\n\
         - Build and check: `./build.sh` (needs {needs}, and `venue-edge` on PATH or in\n  `VENUE_EDGE`). It pins the component's sha256 in `plugin.toml` and runs\n  `venue-edge plugin check` with the samples in `conformance.toml`.\n\
         - Make it yours: {edit} reads and writes the venue's unified shapes as JSON; change it to\n  your format, and the samples to payloads of your format.\n\
         - Ship it: `venue-edge plugin pack {{{{wasm}}}} --manifest plugin.toml --vendor YOU`, then\n  `venue-edge plugin sign {{{{name}}}}.vpkg --key YOUR.key` (`venue-edge plugin keygen` makes the key).\n\n\
         The venue's guide to plugins (limits, grants, signing, debugging) is docs/plugins.md in\nthe Venue Edge repository.\n"
    )
}

/// Writes a new project into `dir` (which must not exist, or be empty).
pub fn write(dir: &Path, world: World, lang: Lang) -> anyhow::Result<Vec<PathBuf>> {
    let name = project_name(dir).map_err(anyhow::Error::msg)?;
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        anyhow::bail!("{} is not empty; give a new folder", dir.display());
    }
    let files = files(&name, world, lang).map_err(anyhow::Error::msg)?;
    let mut written = Vec::new();
    for (path, text, exec) in files {
        let full = dir.join(&path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&full, text)?;
        #[cfg(unix)]
        if exec {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&full, std::fs::Permissions::from_mode(0o755))?;
        }
        #[cfg(not(unix))]
        let _ = exec;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_projects_name_is_its_folders_if_it_can_be_an_id() {
        let cases = [
            ("acme-gate", Ok("acme-gate")),
            ("pos2", Ok("pos2")),
            ("Acme", Err(())),
            ("2gate", Err(())),
            ("acme_gate", Err(())),
            ("acme-", Err(())),
        ];
        for (dir, want) in cases {
            let got = project_name(&Path::new("/x").join(dir));
            assert_eq!(got.as_deref().map_err(|_| ()), want, "{dir:?}");
        }
        assert!(
            project_name(Path::new("/")).is_err(),
            "a folder with no name"
        );
    }

    #[test]
    fn every_world_and_language_gets_whole_files() {
        let worlds = [
            World::GateAdapter,
            World::PosAdapter,
            World::TicketingAdapter,
            World::SettlementRule,
            World::PaymentConnector,
        ];
        for world in worlds {
            for lang in [Lang::Rust, Lang::Js, Lang::Python] {
                match files("acme-x", world, lang) {
                    Ok(files) => {
                        for (path, text, _) in &files {
                            assert!(
                                !text.contains("{{"),
                                "{world:?} {lang:?} {path:?} left a placeholder"
                            );
                        }
                        let manifest = &files
                            .iter()
                            .find(|f| f.0 == Path::new("plugin.toml"))
                            .unwrap()
                            .1;
                        let m: toml::Table = toml::from_str(manifest).unwrap();
                        assert_eq!(m["world"].as_str(), Some(world.as_str()));
                        assert!(files.iter().any(|f| f.0 == Path::new("wit/worlds.wit")));
                    }
                    Err(e) => panic!("{world:?} {lang:?}: {e}"),
                }
            }
        }
    }
}
