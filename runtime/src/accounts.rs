//! The `venue-edge user` and `venue-edge token` commands: venue IT manages staff accounts
//! and API tokens on the box, while it runs or not (the box checks every request against
//! the store, so a change applies at the next request).

use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;

use crate::auth::{self, Role};
use venue_domain::config::Config;

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a user. Without --password-stdin a password is generated and printed once.
    Add {
        #[arg(long, env = "VENUE_EDGE_CONFIG")]
        config: PathBuf,
        /// 2 to 64 of a-z, 0-9, '.', '_' and '-'.
        #[arg(long)]
        username: String,
        /// The name the console shows.
        #[arg(long)]
        display_name: String,
        /// One or more of admin, ticketing, finance-reviewer, finance-payer, manager,
        /// auditor, integration, operator:<party_id> (repeat the flag).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// No password: the user works through tokens only and cannot sign in.
        #[arg(long, conflicts_with = "password_stdin")]
        no_password: bool,
    },
    /// List users (never a password or a token).
    List {
        #[arg(long, env = "VENUE_EDGE_CONFIG")]
        config: PathBuf,
    },
    /// Disable a user: their tokens and sessions stop working at once.
    Disable {
        #[arg(long, env = "VENUE_EDGE_CONFIG")]
        config: PathBuf,
        #[arg(long)]
        username: String,
    },
    /// Enable a disabled user again.
    Enable {
        #[arg(long, env = "VENUE_EDGE_CONFIG")]
        config: PathBuf,
        #[arg(long)]
        username: String,
    },
    /// Set a user's password (ends their sessions). Without --password-stdin a password
    /// is generated and printed once.
    Passwd {
        #[arg(long, env = "VENUE_EDGE_CONFIG")]
        config: PathBuf,
        #[arg(long)]
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Issue a token to a user and print it as the last line (the only time it is shown).
    Add {
        #[arg(long, env = "VENUE_EDGE_CONFIG")]
        config: PathBuf,
        /// The user the token acts as.
        #[arg(long)]
        user: String,
        /// Limit the token to one of the user's roles (default: all of them).
        #[arg(long)]
        role: Option<String>,
        /// A note on where the token is used.
        #[arg(long, default_value = "")]
        label: String,
        /// Days until it expires.
        #[arg(long, default_value_t = 365)]
        expires_in_days: u32,
        /// Expires at this time instead (RFC 3339).
        #[arg(long)]
        expires_at: Option<String>,
    },
    /// List tokens by their ids (never the tokens).
    List {
        #[arg(long, env = "VENUE_EDGE_CONFIG")]
        config: PathBuf,
    },
    /// Revoke a token by its id (`tok_...`, from `token list`).
    Revoke {
        #[arg(long, env = "VENUE_EDGE_CONFIG")]
        config: PathBuf,
        #[arg(long)]
        id: String,
    },
}

#[derive(Subcommand)]
pub enum DeviceCommand {
    /// Issue MQTT credentials to devices (a new password replaces the old one) and print
    /// them as JSON, `{"g-north-1":{"username":"g-north-1","password":"..."}}`: the only
    /// time a password is shown.
    Add {
        #[arg(long, env = "VENUE_EDGE_CONFIG")]
        config: PathBuf,
        /// A device id (repeat the flag); with none, give --all.
        #[arg(long = "id")]
        ids: Vec<String>,
        /// Every gate and POS terminal in the config.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
    },
    /// List devices with credentials (never a password).
    List {
        #[arg(long, env = "VENUE_EDGE_CONFIG")]
        config: PathBuf,
    },
    /// Revoke a device's credentials: its next login is refused.
    Revoke {
        #[arg(long, env = "VENUE_EDGE_CONFIG")]
        config: PathBuf,
        #[arg(long)]
        id: String,
    },
    /// Write a mosquitto config, ACL and password file for this zone's devices and the
    /// runtime into a folder (run again after adding or revoking devices, then reload
    /// mosquitto).
    Export {
        #[arg(long, env = "VENUE_EDGE_CONFIG")]
        config: PathBuf,
        /// The folder to write `mosquitto.conf`, `acl` and `passwd` into.
        #[arg(long)]
        mosquitto: PathBuf,
        /// The port mosquitto listens on.
        #[arg(long, default_value_t = 1883)]
        port: u16,
        /// The address it listens on (default: every interface).
        #[arg(long)]
        bind: Option<String>,
        /// The user mosquitto runs as once started as root (it must be able to read the
        /// password file, which is written readable by its owner only). Default: mosquitto's
        /// own (`mosquitto`); chown the folder to it.
        #[arg(long)]
        mosquitto_user: Option<String>,
        /// The runtime's password file (the config's `[mqtt] password_file`): read when it
        /// exists, else written with a new password.
        #[arg(long)]
        runtime_password_file: PathBuf,
    },
}

fn open_store(config: &Path) -> anyhow::Result<venue_store::Store> {
    let config = Config::load(config)?;
    Ok(venue_store::Store::open(
        &config.edge.data_dir.join(crate::runtime::STORE_FILE),
    )?)
}

/// Runs `f` in one store job, its error a message for the command line.
async fn with_store<T: Send + 'static>(
    config: &Path,
    f: impl FnOnce(&rusqlite::Connection) -> Result<T, String> + Send + 'static,
) -> anyhow::Result<T> {
    let store = open_store(config)?;
    let out = store
        .write(move |c| -> Result<Result<T, String>, venue_store::StoreError> { Ok(f(c)) })
        .await?;
    out.map_err(|e| anyhow::anyhow!(e))
}

/// Runs `f` in one store job and, when it succeeds, appends its audit row in the same job:
/// the command (`cli:` and the operating-system user who ran it) did `action` to `subject`.
async fn with_audited_store<T: Send + 'static>(
    config: &Path,
    action: &'static str,
    subject: String,
    detail: String,
    f: impl FnOnce(&rusqlite::Connection) -> Result<T, String> + Send + 'static,
) -> anyhow::Result<T> {
    with_store(config, move |c| {
        let out = f(c)?;
        let who = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        venue_domain::audit::append(
            c,
            &now,
            &venue_domain::actor::Actor::system(format!("cli:{who}")),
            action,
            &subject,
            &detail,
        )
        .map_err(|e| e.to_string())?;
        Ok(out)
    })
    .await
}

/// The password from standard input's first line, or a generated one (then printed).
fn password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        Ok((line.trim_end_matches(['\r', '\n']).to_owned(), false))
    } else {
        Ok((auth::generate_password(), true))
    }
}

pub async fn user(command: UserCommand) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    match command {
        UserCommand::Add {
            config,
            username,
            display_name,
            roles,
            password_stdin,
            no_password,
        } => {
            let roles = roles
                .iter()
                .map(|r| Role::parse(r).with_context(|| format!("unknown role {r:?}")))
                .collect::<anyhow::Result<Vec<Role>>>()?;
            let (pw, generated) = if no_password {
                (String::new(), false)
            } else {
                password(password_stdin)?
            };
            let (name, pw2) = (username.clone(), pw.clone());
            let detail = format!(
                "roles={} sign_in={}",
                roles
                    .iter()
                    .map(|r| r.as_string())
                    .collect::<Vec<_>>()
                    .join(","),
                !no_password
            );
            with_audited_store(&config, "user.add", username.clone(), detail, move |c| {
                auth::add_user(
                    c,
                    &auth::NewUser {
                        username: &name,
                        display_name: &display_name,
                        roles: &roles,
                        password: (!no_password).then_some(pw2.as_str()),
                    },
                    now,
                )
            })
            .await?;
            println!("added user {username}");
            if generated {
                println!("password (shown once): {pw}");
            }
        }
        UserCommand::List { config } => {
            let users =
                with_store(&config, |c| auth::list_users(c).map_err(|e| e.to_string())).await?;
            println!(
                "{:<24} {:<8} {:<8} {:<7} {:<28} display name",
                "user", "sign-in", "disabled", "tokens", "roles"
            );
            for u in users {
                println!(
                    "{:<24} {:<8} {:<8} {:<7} {:<28} {}",
                    u.username,
                    if u.can_sign_in { "yes" } else { "no" },
                    if u.disabled { "yes" } else { "no" },
                    u.tokens,
                    u.roles,
                    u.display_name
                );
            }
        }
        UserCommand::Disable { config, username } => {
            let name = username.clone();
            with_audited_store(
                &config,
                "user.disable",
                username.clone(),
                String::new(),
                move |c| auth::set_disabled(c, &name, true, now),
            )
            .await?;
            println!("disabled user {username}: their tokens and sessions no longer work");
        }
        UserCommand::Enable { config, username } => {
            let name = username.clone();
            with_audited_store(
                &config,
                "user.enable",
                username.clone(),
                String::new(),
                move |c| auth::set_disabled(c, &name, false, now),
            )
            .await?;
            println!("enabled user {username}");
        }
        UserCommand::Passwd {
            config,
            username,
            password_stdin,
        } => {
            let (pw, generated) = password(password_stdin)?;
            let (name, pw2) = (username.clone(), pw.clone());
            with_audited_store(
                &config,
                "user.passwd",
                username.clone(),
                String::new(),
                move |c| auth::set_password(c, &name, &pw2, now),
            )
            .await?;
            println!("set the password of {username}; their sessions are ended");
            if generated {
                println!("password (shown once): {pw}");
            }
        }
    }
    Ok(())
}

pub async fn device(command: DeviceCommand) -> anyhow::Result<()> {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    match command {
        DeviceCommand::Add { config, ids, all } => {
            let ids = if all {
                crate::device_logins::configured_devices(&Config::load(&config)?)
            } else {
                ids
            };
            anyhow::ensure!(!ids.is_empty(), "name devices with --id, or give --all");
            let subject = ids.join(",");
            let logins =
                with_audited_store(&config, "device.add", subject, String::new(), move |c| {
                    crate::device_logins::add_all(c, &ids, &now)
                })
                .await?;
            println!("{logins}");
        }
        DeviceCommand::List { config } => {
            let devices = with_store(&config, |c| {
                crate::device_logins::list(c).map_err(|e| e.to_string())
            })
            .await?;
            for d in devices {
                let state = d
                    .revoked_at
                    .map_or_else(|| "in force".to_owned(), |at| format!("revoked {at}"));
                println!("{:<24} since {}  {state}", d.device_id, d.created_at);
            }
        }
        DeviceCommand::Export {
            config,
            mosquitto,
            port,
            bind,
            mosquitto_user,
            runtime_password_file,
        } => {
            let cfg = Config::load(&config)?;
            let zone = cfg.venue.zone.clone();
            let runtime_user = cfg
                .mqtt
                .username
                .clone()
                .unwrap_or_else(|| "venue-edge".to_owned());
            let runtime_password = match std::fs::read_to_string(&runtime_password_file) {
                Ok(text) => text.trim().to_owned(),
                Err(_) => {
                    let password = venue_bus::credentials::generate_password();
                    write_private(&runtime_password_file, &password)?;
                    password
                }
            };
            let devices = with_store(&config, |c| {
                crate::device_logins::hashes(c).map_err(|e| e.to_string())
            })
            .await?;
            std::fs::create_dir_all(&mosquitto)?;
            let dir = mosquitto.canonicalize()?;
            let mut passwd = format!(
                "{runtime_user}:{}\n",
                venue_bus::credentials::hash(&runtime_password)
            );
            for (id, hash) in &devices {
                passwd.push_str(&format!("{id}:{hash}\n"));
            }
            write_private(&dir.join("passwd"), &passwd)?;
            std::fs::write(dir.join("acl"), mosquitto_acl(&zone, &runtime_user))?;
            std::fs::write(
                dir.join("mosquitto.conf"),
                format!(
                    "# mosquitto for Venue Edge zone {zone}, written by `venue-edge device export`.\n\
                     {}listener {port}{}\n\
                     # Without it, Nagle's algorithm adds ~40 ms to every scan -> verdict round trip.\n\
                     set_tcp_nodelay true\n\
                     allow_anonymous false\n\
                     password_file {}\n\
                     acl_file {}\n\
                     max_inflight_messages 0\n\
                     max_queued_messages 100000\n",
                    mosquitto_user
                        .map(|u| format!("user {u}\n"))
                        .unwrap_or_default(),
                    bind.map(|b| format!(" {b}")).unwrap_or_default(),
                    dir.join("passwd").display(),
                    dir.join("acl").display()
                ),
            )?;
            println!(
                "wrote {} (mosquitto.conf, acl, passwd: {} devices and the runtime as {runtime_user})",
                dir.display(),
                devices.len()
            );
        }
        DeviceCommand::Revoke { config, id } => {
            let device = id.clone();
            with_audited_store(
                &config,
                "device.revoke",
                id.clone(),
                String::new(),
                move |c| crate::device_logins::revoke(c, &device, &now),
            )
            .await?;
            println!("revoked the credentials of {id}");
        }
    }
    Ok(())
}

pub async fn token(command: TokenCommand) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    match command {
        TokenCommand::Add {
            config,
            user,
            role,
            label,
            expires_in_days,
            expires_at,
        } => {
            let role = role
                .map(|r| Role::parse(&r).with_context(|| format!("unknown role {r:?}")))
                .transpose()?;
            let expires = match expires_at {
                Some(t) => chrono::DateTime::parse_from_rfc3339(&t)
                    .with_context(|| format!("--expires-at {t:?} is not RFC 3339"))?
                    .with_timezone(&chrono::Utc),
                None => now + chrono::Duration::days(i64::from(expires_in_days)),
            };
            let detail = format!(
                "role={} expires={}",
                role.as_ref()
                    .map_or_else(|| "all".to_owned(), |r| r.as_string()),
                expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            );
            let issued = with_audited_store(&config, "token.add", user.clone(), detail, move |c| {
                auth::create_token(c, &user, role.as_ref(), &label, Some(expires), now)
            })
            .await?;
            eprintln!(
                "token {} expires {}",
                issued.token_id,
                expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            );
            println!("{}", issued.token);
        }
        TokenCommand::List { config } => {
            let tokens =
                with_store(&config, |c| auth::list_tokens(c).map_err(|e| e.to_string())).await?;
            for t in tokens {
                let state = match (&t.revoked_at, &t.expires_at) {
                    (Some(at), _) => format!("revoked {at}"),
                    (None, Some(at)) => format!("expires {at}"),
                    (None, None) => "no expiry".to_owned(),
                };
                let role = if t.role.is_empty() {
                    "all roles"
                } else {
                    &t.role
                };
                println!(
                    "{}  {:<24} {:<20} {:<32} {}",
                    t.token_id, t.username, role, state, t.label
                );
            }
        }
        TokenCommand::Revoke { config, id } => {
            let token_id = id.clone();
            with_audited_store(
                &config,
                "token.revoke",
                id.clone(),
                String::new(),
                move |c| auth::revoke_token(c, &token_id, now),
            )
            .await?;
            println!("revoked {id}");
        }
    }
    Ok(())
}

/// mosquitto's ACL for a zone: the runtime reads device topics and writes answers; each
/// device (its user name is its id, `%u`) writes its own topics and reads its own answers.
pub fn mosquitto_acl(zone: &str, runtime_user: &str) -> String {
    format!(
        "# Written by `venue-edge device export` for zone {zone}.\n\
         user {runtime_user}\n\
         topic read venue/{zone}/gate/+/scan\n\
         topic read venue/{zone}/pos/+/sale\n\
         topic read venue/{zone}/device/+/status\n\
         topic write venue/{zone}/gate/+/verdict\n\
         topic write venue/{zone}/gate/+/whitelist\n\
         topic write venue/{zone}/pos/+/ack\n\
         topic readwrite venue/{zone}/alerts\n\
         \n\
         pattern write venue/{zone}/gate/%u/scan\n\
         pattern read venue/{zone}/gate/%u/verdict\n\
         pattern read venue/{zone}/gate/%u/whitelist\n\
         pattern write venue/{zone}/pos/%u/sale\n\
         pattern read venue/{zone}/pos/%u/ack\n\
         pattern write venue/{zone}/device/%u/status\n\
         pattern read venue/{zone}/alerts\n"
    )
}

/// Writes a secrets file readable by its owner only.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    crate::device_logins::write_private(path, text.as_bytes())
        .with_context(|| path.display().to_string())
}
