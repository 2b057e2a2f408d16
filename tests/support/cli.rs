//! Runs the real `qcc` binary from integration tests, in scratch
//! directories, and checks its error contract: non-zero exit, exactly one
//! `error: ` line on stderr, no panic.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// The `qcc` binary of the profile these tests were built with, built on
/// first use (cargo does not build another package's binaries for tests).
pub fn qcc_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // A test executable is target/<profile dir>/deps/<name>-<hash>, a
        // binary of this crate target/<profile dir>/<name>.
        let exe = std::env::current_exe().expect("test executable path");
        let dir = exe.parent().expect("target/<profile>/deps/<test>");
        let profile_dir = if dir.ends_with("deps") { dir.parent().expect("target/<profile>/deps") } else { dir };
        let target_dir = profile_dir.parent().expect("target/<profile>");
        let profile = match profile_dir.file_name().and_then(OsStr::to_str) {
            // `cargo test` builds with the test profile into target/debug;
            // building the binary with it reuses the already built library.
            Some("debug") => "test".to_string(),
            Some(other) => other.to_string(),
            None => panic!("unexpected test executable location {}", exe.display()),
        };
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", "qcc", "--bin", "qcc", "--profile", &profile, "--manifest-path"])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(target_dir)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the qcc binary failed");
        let bin = profile_dir.join(format!("qcc{}", std::env::consts::EXE_SUFFIX));
        assert!(bin.exists(), "{} was not built", bin.display());
        bin
    })
}

/// Runs `qcc` with `args`.
pub fn qcc<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(qcc_bin()).args(args).output().expect("qcc runs")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Asserts the failure contract, and that the message contains each of
/// `needles`. Returns the error line.
#[track_caller]
pub fn expect_error(out: &Output, needles: &[&str]) -> String {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    let context = format!("status {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}", out.status.code());
    assert!(!stderr.contains("panicked") && !stdout.contains("panicked"), "qcc panicked:\n{context}");
    assert!(!out.status.success(), "qcc succeeded but should have failed:\n{context}");
    assert!(out.status.code().is_some(), "qcc was killed by a signal:\n{context}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "stderr must be exactly one line:\n{context}");
    let line = lines[0];
    assert!(line.starts_with("error: "), "stderr must start with 'error: ':\n{context}");
    for n in needles {
        assert!(line.contains(n), "the error does not mention {n:?}:\n{context}");
    }
    line.to_string()
}

/// Asserts success (exit 0, no panic); returns stdout.
#[track_caller]
pub fn expect_success(out: &Output) -> String {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success() && !stderr.contains("panicked"),
        "qcc failed: status {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status.code()
    );
    stdout
}

/// A scratch directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let k = COUNT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("qcc-test-{}-{tag}-{k}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch directory");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `bytes` to `name` in the directory; returns the path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).expect("write scratch file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
