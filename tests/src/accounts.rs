//! A new test box's people and devices, made through its own commands: one user per role
//! with a known password and a token, and an MQTT login for every configured device and for
//! the harness's alert listener.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::{HARNESS_ROLES, MONITOR_DEVICE, binary, test_password, test_username};

/// Runs `venue-edge ARGS --config CONFIG`, with `stdin` as its input.
pub fn cli(config: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = Command::new(binary("venue-edge"))
        .args(args)
        .arg("--config")
        .arg(config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("venue-edge runs");
    if let Some(text) = stdin {
        let mut input = child.stdin.take().expect("stdin");
        writeln!(input, "{text}").expect("write stdin");
    }
    child.wait_with_output().expect("venue-edge runs")
}

/// Runs a command that must succeed.
fn must(config: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let out = cli(config, args, stdin);
    assert!(
        out.status.success(),
        "venue-edge {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Makes the users, tokens and device logins; returns each role's token. The devices'
/// passwords are remembered for the simulators of `zone`.
pub fn provision(config: &Path, zone: &str) -> HashMap<String, String> {
    let mut tokens = HashMap::new();
    for role in HARNESS_ROLES {
        let username = test_username(role);
        let add = [
            "user",
            "add",
            "--username",
            &username,
            "--display-name",
            role,
        ];
        let mut args = add.to_vec();
        args.extend(["--role", role, "--password-stdin"]);
        must(config, &args, Some(&test_password(role)));
        let out = must(config, &["token", "add", "--user", &username], None);
        let text = String::from_utf8_lossy(&out.stdout);
        tokens.insert(
            role.to_owned(),
            text.lines().last().unwrap_or_default().trim().to_owned(),
        );
    }
    for args in [
        &["device", "add", "--all"][..],
        &["device", "add", "--id", MONITOR_DEVICE][..],
    ] {
        let out = must(config, args, None);
        let logins: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("device add prints JSON");
        venue_devices::mqtt::remember_logins(zone, &logins);
    }
    tokens
}
