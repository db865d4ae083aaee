//! Devices' MQTT credentials: each gate and POS terminal logs in to the embedded broker with
//! its id as user name and a generated password (`venue-edge device add`), kept as a
//! mosquitto-style hash. The broker asks [`StoreDirectory`] for the hash at each login and
//! tells it of a device that reached for another's topic, which becomes an alert.

use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::mpsc;

use venue_bus::broker::DeviceDirectory;
use venue_bus::credentials;
use venue_domain::config::Config;
use venue_model::alert::Alert;

/// A device's credentials as `device list` shows them (never the password).
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeviceLogin {
    pub device_id: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// Every gate and POS terminal the config names.
pub fn configured_devices(config: &Config) -> Vec<String> {
    config
        .gates
        .iter()
        .map(|g| g.id.clone())
        .chain(config.pos.iter().map(|p| p.id.clone()))
        .collect()
}

/// Issues `device` a new password (replacing any it had) and returns it: shown once.
pub fn add(conn: &Connection, device: &str, now: &str) -> Result<String, String> {
    if device.is_empty() || device.len() > 64 || device.contains(['/', '+', '#', ' ']) {
        return Err(format!(
            "device id {device:?}: 1 to 64 characters without '/', '+', '#' or spaces"
        ));
    }
    let password = credentials::generate_password();
    conn.execute(
        "INSERT INTO device_credentials (device_id, password_hash, created_at, revoked_at)
         VALUES (?1, ?2, ?3, NULL)
         ON CONFLICT (device_id) DO UPDATE SET password_hash = excluded.password_hash,
             created_at = excluded.created_at, revoked_at = NULL",
        params![device, credentials::hash(&password), now],
    )
    .map_err(|e| e.to_string())?;
    Ok(password)
}

/// Issues each of `devices` a new password; the logins as the devices take them,
/// `{"g-north-1":{"username":"g-north-1","password":"..."},...}` (shown once).
pub fn add_all(
    conn: &Connection,
    devices: &[String],
    now: &str,
) -> Result<serde_json::Value, String> {
    let mut logins = serde_json::Map::new();
    for id in devices {
        let password = add(conn, id, now)?;
        logins.insert(
            id.clone(),
            serde_json::json!({ "username": id, "password": password }),
        );
    }
    Ok(serde_json::Value::Object(logins))
}

/// Writes a secrets file (a password, a logins or users file) readable by its owner only,
/// replacing what was there.
pub fn write_private(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?
        .write_all(contents)
}

/// Revokes a device's credentials: its next login is refused.
pub fn revoke(conn: &Connection, device: &str, now: &str) -> Result<(), String> {
    let n = conn
        .execute(
            "UPDATE device_credentials SET revoked_at = ?2 WHERE device_id = ?1 AND revoked_at IS NULL",
            params![device, now],
        )
        .map_err(|e| e.to_string())?;
    if n == 0 {
        return Err(format!("no device {device} with credentials in force"));
    }
    Ok(())
}

pub fn list(conn: &Connection) -> rusqlite::Result<Vec<DeviceLogin>> {
    let mut stmt = conn.prepare(
        "SELECT device_id, created_at, revoked_at FROM device_credentials ORDER BY device_id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(DeviceLogin {
            device_id: r.get(0)?,
            created_at: r.get(1)?,
            revoked_at: r.get(2)?,
        })
    })?;
    rows.collect()
}

/// Every device's password hash in force, by id (for a mosquitto password file).
pub fn hashes(conn: &Connection) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare(
        "SELECT device_id, password_hash FROM device_credentials WHERE revoked_at IS NULL ORDER BY device_id",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// The hash of a device's password in force.
fn hash_of(conn: &Connection, device: &str) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached(
        "SELECT password_hash FROM device_credentials WHERE device_id = ?1 AND revoked_at IS NULL",
    )?
    .query_row(params![device], |r| r.get(0))
    .optional()
}

/// The broker's view of devices: read from the store at each login (a revocation applies
/// at the next one), refusals raised as `topic_refused` alerts.
pub struct StoreDirectory {
    reader: Mutex<Connection>,
    alerts: mpsc::Sender<Alert>,
    clock: venue_model::clock::Clock,
}

impl StoreDirectory {
    pub fn new(
        reader: Connection,
        alerts: mpsc::Sender<Alert>,
        clock: venue_model::clock::Clock,
    ) -> StoreDirectory {
        StoreDirectory {
            reader: Mutex::new(reader),
            alerts,
            clock,
        }
    }
}

impl DeviceDirectory for StoreDirectory {
    fn password_hash(&self, device: &str) -> Option<String> {
        let conn = self.reader.lock().ok()?;
        match hash_of(&conn, device) {
            Ok(hash) => hash,
            Err(e) => {
                tracing::error!(device, error = %e, "mqtt: cannot read device credentials");
                None
            }
        }
    }

    fn refused(&self, device: &str, topic: &str, other: Option<&str>) {
        tracing::warn!(
            device,
            topic,
            other,
            "mqtt: a device reached for a topic not its own"
        );
        let alert = Alert::new(
            "topic_refused",
            self.clock.now_rfc3339(),
            serde_json::json!({ "device": device, "topic": topic, "other_device": other }),
        );
        // The alert queue is bounded; a device flooding refusals loses alerts, never the box.
        let _ = self.alerts.try_send(alert);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_logs_in_with_its_latest_password_until_revoked() {
        let conn = venue_store::migrated_in_memory();
        let now = "2026-12-07T09:00:00+08:00";
        let first = add(&conn, "g-north-1", now).unwrap();
        let second = add(&conn, "g-north-1", now).unwrap();
        let hash = hash_of(&conn, "g-north-1").unwrap().unwrap();
        // (password, matches)
        for (password, ok) in [(&second, true), (&first, false), (&"".to_owned(), false)] {
            assert_eq!(credentials::verify(password, &hash), ok, "{password}");
        }
        assert!(!hash.contains(&second), "only a hash is kept");
        revoke(&conn, "g-north-1", now).unwrap();
        assert_eq!(hash_of(&conn, "g-north-1").unwrap(), None);
        assert!(revoke(&conn, "g-north-1", now).is_err());
        for bad in ["", "a/b", "g+", "#", "has space"] {
            assert!(add(&conn, bad, now).is_err(), "{bad:?}");
        }
        assert_eq!(list(&conn).unwrap().len(), 1);
    }
}
