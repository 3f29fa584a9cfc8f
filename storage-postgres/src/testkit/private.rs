//! A private PostgreSQL server from the system's binaries: `initdb` and
//! `pg_ctl` in a directory under `$TMPDIR/accrete-pg-test`, listening on a
//! free loopback port.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::reaper;
use super::{HarnessError, PASSWORD_USER, PrivateOptions};

/// The OS user that runs the server when the tests run as root (initdb and
/// postgres refuse root).
const SERVER_OS_USER: &str = "postgres";

static NEXT_DIR: AtomicU64 = AtomicU64::new(0);

/// The server binaries and the OS user to run them as.
#[derive(Debug, Clone)]
struct Tools {
    bin: PathBuf,
    /// `Some(user, uid, gid)` when running as root.
    run_as: Option<(String, u32, u32)>,
}

impl Tools {
    fn find() -> Result<Self, HarnessError> {
        Ok(Tools {
            bin: find_bindir()?,
            run_as: server_os_user()?,
        })
    }

    /// `program` from the server's bin directory, as the server's user.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        match &self.run_as {
            Some((user, _, _)) => {
                let mut cmd = Command::new("runuser");
                cmd.args(["-u", user, "--"]).arg(path);
                cmd
            }
            None => Command::new(path),
        }
    }

    /// The command line stopping the server of `data` (for the watchdog too).
    fn stop_command(&self, data: &Path, mode: &str) -> Vec<String> {
        let cmd = self.command("pg_ctl");
        let mut line = vec![cmd.get_program().to_string_lossy().into_owned()];
        line.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
        line.extend(["-D".into(), data.display().to_string()]);
        line.extend(["-m", mode, "-w", "-t", "60", "stop"].map(String::from));
        line
    }

    fn stop(&self, data: &Path, mode: &str) -> Result<(), HarnessError> {
        let line = self.stop_command(data, mode);
        let mut cmd = Command::new(&line[0]);
        cmd.args(&line[1..]);
        run(cmd, "pg_ctl stop")
    }

    fn give_to_server_user(&self, path: &Path) -> Result<(), HarnessError> {
        if let Some((_, uid, gid)) = &self.run_as {
            std::os::unix::fs::chown(path, Some(*uid), Some(*gid))
                .map_err(|e| HarnessError::io(path, e))?;
        }
        Ok(())
    }
}

#[derive(Debug)]
pub(super) struct PrivateServer {
    dir: PathBuf,
    tools: Tools,
    pub(super) port: u16,
    watchdog: Mutex<Option<Child>>,
}

impl PrivateServer {
    /// Creates, configures and starts a new server (blocking).
    pub(super) fn start_new(options: &PrivateOptions) -> Result<Self, HarnessError> {
        let tools = Tools::find()?;
        let base = reaper::base_dir();
        let base_ready = std::fs::create_dir_all(&base).and_then(|()| {
            std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o1777))
        });
        base_ready.map_err(|e| HarnessError::io(&base, e))?;
        reaper::reap(&base, &|data| {
            let _ = tools.stop(data, "immediate");
        });
        let dir = base.join(format!(
            "run-{}-{}-{:08x}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::Relaxed),
            rand::random::<u32>()
        ));
        std::fs::create_dir(&dir).map_err(|e| HarnessError::io(&dir, e))?;
        reaper::claim(&dir).map_err(|e| HarnessError::io(&dir, e))?;
        let server = PrivateServer {
            dir,
            tools,
            port: 0,
            watchdog: Mutex::new(None),
        };
        server.tools.give_to_server_user(&server.dir)?;
        let stop = server.tools.stop_command(&server.data(), "immediate");
        let watchdog =
            reaper::watchdog(&server.dir, &stop).map_err(|e| HarnessError::io(&server.dir, e))?;
        *lock(&server.watchdog) = Some(watchdog);
        server.init(options)?;
        server.start_on_free_port()
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn log(&self) -> PathBuf {
        self.dir.join("log")
    }

    /// The last lines of the server's log, for error messages.
    pub(super) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    fn init(&self, options: &PrivateOptions) -> Result<(), HarnessError> {
        let data = self.data();
        let mut cmd = self.tools.command("initdb");
        cmd.arg("-D").arg(&data);
        cmd.args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        run(cmd, "initdb")?;
        let hba = format!(
            "local all all trust\n\
             host all {PASSWORD_USER} 127.0.0.1/32 scram-sha-256\n\
             host all all 127.0.0.1/32 trust\n"
        );
        self.write_file(&data.join("pg_hba.conf"), hba.as_bytes())?;
        for (name, bytes) in &options.files {
            self.write_file(&data.join(name), bytes)?;
        }
        let mut conf = String::from(
            "\n# accrete test server\nlisten_addresses = '127.0.0.1'\nmax_connections = 300\n",
        );
        conf.push_str(&format!(
            "unix_socket_directories = '{}'\n",
            quote(&self.dir.display().to_string())
        ));
        for (key, value) in &options.settings {
            conf.push_str(&format!("{key} = '{}'\n", quote(value)));
        }
        self.append_conf(&conf)
    }

    /// Picks a free port and starts; tries again on another port if the
    /// chosen one was taken meanwhile.
    fn start_on_free_port(mut self) -> Result<Self, HarnessError> {
        let mut last = None;
        for _ in 0..5 {
            self.port = free_port()?;
            self.append_conf(&format!("port = {}\n", self.port))?;
            match self.pg_ctl_start() {
                Ok(()) => return Ok(self),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| HarnessError::new("the server did not start")))
    }

    pub(super) fn pg_ctl_start(&self) -> Result<(), HarnessError> {
        let mut cmd = self.tools.command("pg_ctl");
        cmd.arg("-D").arg(self.data()).arg("-l").arg(self.log());
        cmd.args(["-w", "-t", "60", "start"]);
        run(cmd, "pg_ctl start").map_err(|e| e.with_log(&self.log_tail()))
    }

    /// Stops the server: `fast` ends sessions cleanly, `immediate`
    /// simulates a crash.
    pub(super) fn pg_ctl_stop(&self, mode: &str) -> Result<(), HarnessError> {
        self.tools.stop(&self.data(), mode)
    }

    fn write_file(&self, path: &Path, bytes: &[u8]) -> Result<(), HarnessError> {
        std::fs::write(path, bytes).map_err(|e| HarnessError::io(path, e))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| HarnessError::io(path, e))?;
        self.tools.give_to_server_user(path)
    }

    fn append_conf(&self, text: &str) -> Result<(), HarnessError> {
        use std::io::Write as _;
        let path = self.data().join("postgresql.conf");
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|e| HarnessError::io(&path, e))
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        let _ = self.pg_ctl_stop("immediate");
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(mut watchdog) = lock(&self.watchdog).take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The guarded value is replaced whole; a panic cannot leave it torn.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn quote(value: &str) -> String {
    value.replace('\'', "''")
}

fn run(mut cmd: Command, what: &str) -> Result<(), HarnessError> {
    let output = cmd
        .output()
        .map_err(|e| HarnessError::new(format!("{what}: could not run {cmd:?}: {e}")))?;
    if !output.status.success() {
        return Err(HarnessError::new(format!(
            "{what} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    Ok(())
}

fn free_port() -> Result<u16, HarnessError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| HarnessError::new(format!("no free loopback port: {e}")))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| HarnessError::new(format!("no free loopback port: {e}")))
}

/// The directory with `initdb`, `pg_ctl` and `postgres`: `ACCRETE_PG_BINDIR`,
/// else `pg_config --bindir`, else the newest `/usr/lib/postgresql/*/bin`,
/// else `PATH`.
pub(super) fn find_bindir() -> Result<PathBuf, HarnessError> {
    let has_server = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("ACCRETE_PG_BINDIR").map(PathBuf::from) {
        return match has_server(&dir) {
            true => Ok(dir),
            false => Err(HarnessError::new(format!(
                "ACCRETE_PG_BINDIR={} holds no initdb and pg_ctl",
                dir.display()
            ))),
        };
    }
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse().ok()?;
            Some((major, e.path().join("bin")))
        })
        .collect();
    debian.sort();
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    from_pg_config
        .into_iter()
        .chain(debian.into_iter().rev().map(|(_, dir)| dir))
        .chain(on_path)
        .find(|dir| has_server(dir))
        .ok_or_else(|| HarnessError::new(super::NO_SERVER_HELP))
}

/// `Some(user, uid, gid)` when running as root: the server must run as
/// another user.
fn server_os_user() -> Result<Option<(String, u32, u32)>, HarnessError> {
    let me = std::fs::metadata("/proc/self")
        .map_err(|e| HarnessError::io(Path::new("/proc/self"), e))?;
    if me.uid() != 0 {
        return Ok(None);
    }
    let id = |flag: &str| -> Result<u32, HarnessError> {
        let out = Command::new("id").args([flag, SERVER_OS_USER]).output();
        out.ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .ok_or_else(|| {
                HarnessError::new(format!(
                    "running as root, and there is no `{SERVER_OS_USER}` OS user to run the test server as (initdb and postgres refuse root); Debian's postgresql package creates it"
                ))
            })
    };
    Ok(Some((SERVER_OS_USER.to_string(), id("-u")?, id("-g")?)))
}
