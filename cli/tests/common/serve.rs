//! `accrete serve` as a process of a test.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use super::ACCRETE;

/// A running `accrete serve`.
pub struct ServeProcess {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl ServeProcess {
    /// Starts `accrete serve URIS EXTRA` (on a free loopback port unless
    /// EXTRA has `--listen`) and waits until it says where it listens.
    pub fn start(uris: &[&str], extra: &[&str]) -> ServeProcess {
        let mut child = Command::new(ACCRETE)
            .arg("serve")
            .args(uris)
            .args(match extra.contains(&"--listen") {
                true => &[][..],
                false => &["--listen", "127.0.0.1:0"][..],
            })
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run accrete serve");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let listening = lines
            .by_ref()
            .map(|line| line.expect("utf-8"))
            .find(|line| line.contains("listening on "))
            .expect("accrete serve said where it listens");
        let addr = listening
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected line {listening:?}"));
        std::thread::spawn(move || lines.for_each(drop));
        ServeProcess { child, addr }
    }

    /// `http://ADDR`
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
