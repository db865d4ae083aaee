//! `venue-edge keys rotate`: a new ID-number key, every stored number re-sealed and
//! re-indexed under it in batches with a progress bar (the box keeps running and reads the
//! key file again when it changes), then the old keys retired and the rotation audited.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use venue_domain::actor::Actor;
use venue_domain::config::Config;
use venue_domain::realname;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Rotate the ID-number key: add one, re-seal every stored ID number with it, retire
    /// the old one.
    #[command(long_about = "Rotate the ID-number key.\n\n\
        Adds a key to the key file ([edge] id_key_file, or secret.key in the data folder), \
        which seals new numbers from then on (the running box reads the file again when it \
        changes); re-seals and re-indexes every stored ID number with it, in batches, one \
        transaction each, with a progress bar; then removes the old keys from the file and \
        writes a `keys.rotate` audit row. Safe while the box runs: a real-name lane matches \
        a number under whichever key its ticket is at. Stopped half way, run it again: it \
        finishes with the key it added. A key given in VENUE_EDGE_ID_KEY cannot be rotated \
        here: keep keys in a file to rotate them.\n\n\
        Example:\n  \
        venue-edge keys rotate --config /etc/venue-edge/edge.toml")]
    Rotate {
        #[arg(long, env = "VENUE_EDGE_CONFIG")]
        config: PathBuf,
        /// Tickets re-sealed per transaction.
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        batch: u32,
    },
}

pub async fn keys(command: KeysCommand) -> anyhow::Result<()> {
    let KeysCommand::Rotate { config, batch } = command;
    anyhow::ensure!(
        std::env::var_os("VENUE_EDGE_ID_KEY").is_none(),
        "the ID-number key comes from VENUE_EDGE_ID_KEY: it cannot be rotated by this command; keep the keys in a file ([edge] id_key_file) to rotate them"
    );
    let config = Config::load(&config)?;
    let key_file = realname::key_file(&config.edge, false);
    anyhow::ensure!(
        key_file.exists(),
        "no ID-number key file at {} (the box makes it on first start)",
        key_file.display()
    );
    let store_file = config.edge.data_dir.join(crate::runtime::STORE_FILE);
    let (rotated, store_file) = tokio::task::spawn_blocking(move || {
        let mut conn = rusqlite::Connection::open(&store_file)
            .with_context(|| format!("opening {}", store_file.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let bar = indicatif::ProgressBar::new(0).with_style(
            indicatif::ProgressStyle::with_template(
                "re-sealing ID numbers {bar:40} {pos}/{len} ({eta} left)",
            )
            .expect("a template"),
        );
        let rotated = realname::rotate(&key_file, &mut conn, batch as usize, &mut |done, left| {
            bar.set_length(done + left);
            bar.set_position(done);
        });
        bar.finish_and_clear();
        anyhow::Ok((rotated?, store_file))
    })
    .await??;
    let store = venue_store::Store::open(&store_file)?;
    let detail = format!(
        "key={} resealed={} retired={}",
        rotated.new_key, rotated.resealed, rotated.retired
    );
    store
        .write(move |c| -> Result<(), venue_store::StoreError> {
            let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            venue_domain::audit::append(
                c,
                &now,
                &Actor::system("cli:keys"),
                "keys.rotate",
                "id-number-key",
                &detail,
            )?;
            Ok(())
        })
        .await?;
    println!(
        "ID-number key {} in use: {} ID numbers re-sealed, {} old key(s) retired",
        rotated.new_key, rotated.resealed, rotated.retired
    );
    Ok(())
}
