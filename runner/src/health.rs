//! What the runner reports about its node on `GET /v1/health`: version,
//! operating system (Unraid, TrueNAS SCALE, Proxmox VE or generic Linux),
//! capabilities found on the host (zfs, docker, systemd, smart, …) and
//! metrics (CPU, memory, load, disks, uptime) from the `sysinfo` crate.
//!
//! Detection reads files under a root folder (`/` in production) so tests
//! can build a fake host in a temp dir.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OsInfo {
    /// `unraid`, `truenas`, `proxmox`, or the os-release ID (`ubuntu`, `debian`, …), else `linux`.
    pub kind: String,
    /// A human name, e.g. "Unraid 6.12.10" or "Ubuntu 24.04.1 LTS".
    pub name: String,
}

/// The host's operating system, as config `os` values name it.
pub fn detect_os(root: &Path) -> OsInfo {
    let read = |p: &str| std::fs::read_to_string(root.join(p)).ok();
    let os_release: BTreeMap<String, String> = read("etc/os-release")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect();
    let pretty = os_release.get("PRETTY_NAME").cloned().unwrap_or_else(|| "Linux".into());
    if let Some(v) = read("etc/unraid-version") {
        let version = v.split('"').nth(1).unwrap_or("").to_string();
        return OsInfo { kind: "unraid".into(), name: format!("Unraid {version}").trim().to_string() };
    }
    if exists(root, "usr/bin/midclt") || exists(root, "usr/local/bin/midclt") {
        let version = read("etc/version").map(|v| v.trim().to_string()).unwrap_or_default();
        return OsInfo { kind: "truenas".into(), name: format!("TrueNAS SCALE {version}").trim().to_string() };
    }
    if exists(root, "usr/bin/pveversion") || exists(root, "etc/pve") {
        return OsInfo { kind: "proxmox".into(), name: format!("Proxmox VE ({pretty})") };
    }
    let kind = match os_release.get("ID").map(String::as_str) {
        Some(id @ ("ubuntu" | "debian")) => id.to_string(),
        _ => "linux".into(),
    };
    OsInfo { kind, name: pretty }
}

fn exists(root: &Path, p: &str) -> bool {
    root.join(p).exists()
}

/// Capabilities and the program that shows each.
const CAPABILITIES: &[(&str, &[&str])] = &[
    ("zfs", &["zpool", "zfs"]),
    ("docker", &["docker"]),
    ("podman", &["podman"]),
    ("systemd", &["systemctl"]),
    ("smart", &["smartctl"]),
    ("apt", &["apt-get"]),
    ("python3", &["python3"]),
    ("restic", &["restic"]),
    ("borg", &["borg"]),
    ("proxmox", &["pct", "qm"]),
];

const BIN_DIRS: &[&str] = &["usr/local/sbin", "usr/local/bin", "usr/sbin", "usr/bin", "sbin", "bin"];

/// The capabilities whose programs are installed, with the path found.
pub fn detect_capabilities(root: &Path) -> BTreeMap<String, String> {
    let find = |program: &str| -> Option<PathBuf> {
        BIN_DIRS.iter().map(|d| root.join(d).join(program)).find(|p| p.is_file())
    };
    CAPABILITIES
        .iter()
        .filter_map(|(cap, programs)| {
            programs
                .iter()
                .find_map(|p| find(p))
                .map(|path| (cap.to_string(), format!("/{}", path.strip_prefix(root).unwrap_or(&path).display())))
        })
        .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct Disk {
    pub mount: String,
    pub total_bytes: u64,
    pub used_bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Metrics {
    /// Average CPU use since the previous health call, in percent.
    pub cpu_percent: f32,
    pub memory_total_bytes: u64,
    pub memory_used_bytes: u64,
    pub load: [f64; 3],
    pub disks: Vec<Disk>,
    pub uptime_secs: u64,
}

/// Keeps the previous CPU sample, so CPU use covers the time between calls.
pub struct Sampler {
    system: Mutex<sysinfo::System>,
}

impl Default for Sampler {
    fn default() -> Self {
        let mut system = sysinfo::System::new();
        system.refresh_cpu_usage();
        Sampler { system: Mutex::new(system) }
    }
}

impl Sampler {
    pub fn metrics(&self) -> Metrics {
        let mut s = self.system.lock().unwrap_or_else(|p| p.into_inner());
        s.refresh_cpu_usage();
        s.refresh_memory();
        let load = sysinfo::System::load_average();
        let disks = sysinfo::Disks::new_with_refreshed_list()
            .iter()
            .filter(|d| d.total_space() > 0)
            .map(|d| Disk {
                mount: d.mount_point().display().to_string(),
                total_bytes: d.total_space(),
                used_bytes: d.total_space().saturating_sub(d.available_space()),
            })
            .collect();
        Metrics {
            cpu_percent: s.global_cpu_usage(),
            memory_total_bytes: s.total_memory(),
            memory_used_bytes: s.used_memory(),
            load: [load.one, load.five, load.fifteen],
            disks,
            uptime_secs: sysinfo::System::uptime(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (p, body) in files {
            let path = dir.path().join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, body).unwrap();
        }
        dir
    }

    #[test]
    fn each_homelab_os_is_recognised() {
        let unraid = host(&[("etc/unraid-version", "version=\"6.12.10\"\n"), ("etc/os-release", "ID=slackware\n")]);
        assert_eq!(detect_os(unraid.path()), OsInfo { kind: "unraid".into(), name: "Unraid 6.12.10".into() });
        let truenas = host(&[("usr/bin/midclt", ""), ("etc/version", "24.10.2\n"), ("etc/os-release", "ID=debian\n")]);
        assert_eq!(detect_os(truenas.path()).kind, "truenas");
        assert_eq!(detect_os(truenas.path()).name, "TrueNAS SCALE 24.10.2");
        let pve = host(&[
            ("usr/bin/pveversion", ""),
            ("etc/os-release", "ID=debian\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"),
        ]);
        assert_eq!(detect_os(pve.path()).kind, "proxmox");
        let ubuntu = host(&[("etc/os-release", "ID=ubuntu\nPRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\n")]);
        assert_eq!(detect_os(ubuntu.path()), OsInfo { kind: "ubuntu".into(), name: "Ubuntu 24.04.1 LTS".into() });
        let arch = host(&[("etc/os-release", "ID=arch\nPRETTY_NAME=\"Arch Linux\"\n")]);
        assert_eq!(detect_os(arch.path()).kind, "linux");
        assert_eq!(detect_os(host(&[]).path()).kind, "linux");
    }

    #[test]
    fn capabilities_follow_installed_programs() {
        let h = host(&[("usr/sbin/zpool", ""), ("usr/bin/docker", ""), ("bin/systemctl", "")]);
        let caps = detect_capabilities(h.path());
        assert_eq!(caps.keys().collect::<Vec<_>>(), ["docker", "systemd", "zfs"]);
        assert_eq!(caps["zfs"], "/usr/sbin/zpool");
    }

    #[test]
    fn metrics_describe_this_machine() {
        let m = Sampler::default().metrics();
        assert!(m.memory_total_bytes > 0 && m.memory_used_bytes <= m.memory_total_bytes);
        assert!(m.uptime_secs > 0);
    }
}
