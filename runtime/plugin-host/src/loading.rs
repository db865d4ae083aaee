//! Loading plugins from the plugin folder: bare manifests and plugin packages (`*.vpkg`),
//! the venue's trust in vendors' keys, and what a component file is before any manifest.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::Digest;

use super::{Loaded, Manifest, PluginError, PluginHost, World, package, version};

/// Which plugin files the box loads (`[plugins]` in the config).
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// Only packages signed by one of `keys`; bare manifests are refused.
    pub require_signatures: bool,
    pub keys: Vec<package::TrustedKey>,
}

/// What [`PluginHost::inspect`] found in a component.
#[derive(Debug, Clone)]
pub struct Inspection {
    pub world: Option<World>,
    /// The contract version, or why the host would refuse it.
    pub contract: Result<version::ContractVersion, String>,
    pub exports: Vec<String>,
    pub imports: Vec<String>,
    pub sha256: String,
}

impl PluginHost {
    /// Sets which plugin files load from now on (the next `load_dir`, the next upload).
    pub fn set_trust(&self, trust: Trust) {
        if let Ok(mut t) = self.trust.write() {
            *t = trust;
        }
    }

    pub fn requires_signatures(&self) -> bool {
        self.trust
            .read()
            .map(|t| t.require_signatures)
            .unwrap_or(true)
    }

    /// Loads a plugin package (`*.vpkg`): its signature checked against the trusted keys
    /// (required or not, a signature that does not match its contents is refused), its
    /// component unpacked beside it into `.unpacked/`, its manifest installed.
    pub fn install_package(&self, path: &Path) -> Result<Arc<Loaded>, PluginError> {
        let shown = path.display().to_string();
        let fail = |message: String| PluginError::Package {
            path: shown.clone(),
            message,
        };
        let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        let pkg = package::read(&bytes).map_err(|e| fail(e.to_string()))?;
        let trust = self
            .trust
            .read()
            .map(|t| t.clone())
            .map_err(|_| fail("the trust settings are poisoned".into()))?;
        match pkg.verify(&trust.keys) {
            Ok(key) => {
                tracing::info!(package = %shown, vendor = %key.vendor, "plugin package signature verified")
            }
            Err(package::PackageError::Unsigned | package::PackageError::Untrusted(_))
                if !trust.require_signatures =>
            {
                tracing::warn!(package = %shown, "plugin package loaded without a trusted signature (signatures are not required)")
            }
            Err(e) => return Err(fail(e.to_string())),
        }
        let mut manifest: Manifest =
            toml::from_str(&pkg.manifest_text).map_err(|e| fail(format!("manifest.toml: {e}")))?;
        // The same checks as a manifest on disk: the id names the unpacked file, so one
        // like `../x` must never get this far.
        manifest
            .validate()
            .map_err(|e| fail(format!("manifest.toml: {e}")))?;
        if manifest.id != pkg.info.id || manifest.world.as_str() != pkg.info.world {
            return Err(fail(format!(
                "package.toml names {} ({}), its manifest {} ({})",
                pkg.info.id,
                pkg.info.world,
                manifest.id,
                manifest.world.as_str()
            )));
        }
        let sha256 = hex::encode(sha2::Sha256::digest(&pkg.wasm));
        let dir = path
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join(".unpacked");
        let wasm_path = dir.join(format!("{}-{}.wasm", manifest.id, &sha256[..16]));
        if !wasm_path.exists() {
            std::fs::create_dir_all(&dir).map_err(|e| fail(e.to_string()))?;
            let tmp = wasm_path.with_extension("tmp");
            std::fs::write(&tmp, &pkg.wasm)
                .and_then(|_| std::fs::rename(&tmp, &wasm_path))
                .map_err(|e| fail(format!("cannot unpack into {}: {e}", dir.display())))?;
        }
        manifest.wasm = wasm_path;
        manifest.source = Some(path.to_owned());
        self.install(manifest)
    }

    /// Loads every `*.plugin.toml` and plugin package (`*.vpkg`) in `dir`. A plugin that fails to load is reported and
    /// skipped; the others load.
    pub fn load_dir(&self, dir: &Path) -> Vec<(PathBuf, PluginError)> {
        let mut errors = Vec::new();
        let Ok(entries) = std::fs::read_dir(dir) else {
            return errors;
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                let name = p.to_string_lossy();
                name.ends_with(".plugin.toml")
                    || name.ends_with(&format!(".{}", package::EXTENSION))
            })
            .collect();
        paths.sort();
        let signed_only = self.requires_signatures();
        for path in paths {
            let result = if path.to_string_lossy().ends_with(".plugin.toml") {
                if signed_only {
                    Err(PluginError::Package {
                        path: path.display().to_string(),
                        message: "a bare manifest; this box loads signed plugin packages only ([plugins] require_signatures)".into(),
                    })
                } else {
                    Manifest::load(&path).and_then(|m| self.install(m).map(|_| ()))
                }
            } else {
                self.install_package(&path).map(|_| ())
            };
            if let Err(e) = result {
                tracing::error!(error = %e, "plugin not loaded");
                errors.push((path, e));
            }
        }
        errors
    }

    /// What a component file is, before any manifest: the world and contract version its
    /// exports name, and the host interfaces it imports (`venue-edge plugin check`).
    pub fn inspect(&self, wasm: &[u8]) -> Result<Inspection, PluginError> {
        let sha256 = hex::encode(sha2::Sha256::digest(wasm));
        let component = self.cache.load(&self.engine, wasm, &sha256)?;
        let ty = component.component_type();
        let exports: Vec<String> = ty
            .exports(&self.engine)
            .map(|(n, _)| n.to_owned())
            .collect();
        let imports: Vec<String> = ty
            .imports(&self.engine)
            .map(|(n, _)| n.to_owned())
            .collect();
        Ok(Inspection {
            world: version::world_of_exports(exports.iter().map(String::as_str)),
            contract: version::of_exports(exports.iter().map(String::as_str)),
            exports,
            imports,
            sha256,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packages_manifest_is_checked_before_anything_is_unpacked() {
        let dir = tempfile::tempdir().unwrap();
        let (failures, _rx) = tokio::sync::mpsc::channel(4);
        let host = PluginHost::new(
            &dir.path().join("cache"),
            None,
            venue_model::clock::Clock::new("Asia/Shanghai".parse().unwrap()),
            failures,
        )
        .unwrap();
        for (id, want) in [
            ("../evil", "must be letters"),
            ("ok", "deadline_ms must be"),
        ] {
            let info = package::Info {
                vendor: "acme".into(),
                id: id.into(),
                world: "gate-adapter".into(),
                contract: "1.1.0".into(),
            };
            let manifest = format!(
                "id = {id:?}\nworld = \"gate-adapter\"\nwasm = \"plugin.wasm\"\nsha256 = \"{}\"\ndeadline_ms = 99999\n",
                "a".repeat(64)
            );
            let path = dir.path().join("p.vpkg");
            std::fs::write(&path, package::pack(&info, &manifest, b"\0asm").unwrap()).unwrap();
            let err = match host.install_package(&path) {
                Ok(_) => panic!("{id}: loaded"),
                Err(e) => e.to_string(),
            };
            assert!(err.contains(want), "{id}: {err}");
        }
        assert!(
            !dir.path().join(".unpacked").exists(),
            "nothing was unpacked"
        );
    }
}
