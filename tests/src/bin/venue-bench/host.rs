//! What the machine's host did to a run: the CPU time a hypervisor took from this
//! virtual machine while a benchmark ran. Tails of a millisecond move with it, so
//! each latency and throughput run prints it beside its figures.

/// The machine's CPU time so far, from the first line of `/proc/stat` (Linux): all of it,
/// and what a hypervisor took from this virtual machine ("steal"). Read once before and
/// once after a run, so the reading itself costs the run nothing.
pub(crate) struct CpuTimes {
    total: u64,
    steal: u64,
}

impl CpuTimes {
    pub(crate) fn now() -> Option<CpuTimes> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let fields: Vec<u64> = stat
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        // user nice system idle iowait irq softirq steal guest guest_nice; the guest
        // times are already counted in user and nice.
        Some(CpuTimes {
            total: fields.iter().take(8).sum(),
            steal: *fields.get(7)?,
        })
    }
}

/// The share of the machine's CPU time stolen since `before` was read.
pub(crate) fn stolen_since(before: Option<CpuTimes>) -> Option<f64> {
    let (before, after) = (before?, CpuTimes::now()?);
    let total = after.total.checked_sub(before.total).filter(|t| *t > 0)?;
    Some(after.steal.saturating_sub(before.steal) as f64 / total as f64)
}

pub(crate) fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "unknown".into(), |s| format!("{:.1}%", s * 100.0))
}
