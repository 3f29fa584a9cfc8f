//! A small client of the Chrome DevTools Protocol: it starts the system's
//! headless Chromium, opens one page and drives it — navigate, evaluate
//! JavaScript, press keys, take screenshots — over the browser's
//! WebSocket (one connection, the page's session attached with
//! `flatten`). Chromium missing is a failure that says how to install it,
//! never a skip.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// The width and height of the page's window.
pub(crate) const VIEWPORT: (u32, u32) = (1280, 1000);

/// The Chromium binary: `ACCRETE_CHROMIUM`, else `chromium` (Debian's
/// package) or `chromium-browser` on the PATH.
fn binary() -> PathBuf {
    if let Ok(path) = std::env::var("ACCRETE_CHROMIUM") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "ACCRETE_CHROMIUM names {}, which is not a file",
            path.display()
        );
        return path;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "the console's browser tests need Chromium and found none on the PATH: \
         `apt-get install chromium` (.ci/run installs it), or set ACCRETE_CHROMIUM"
    );
}

/// A headless Chromium with one page.
pub(crate) struct Browser {
    child: Child,
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    session: String,
    next_id: u64,
    /// Uncaught exceptions and console errors of the page, as they came.
    pub(crate) errors: Vec<String>,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts Chromium and opens a blank page of [`VIEWPORT`] size.
    pub(crate) fn launch() -> Browser {
        let profile = tempfile::tempdir().expect("a profile directory");
        let mut child = Command::new(binary())
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-sync",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                &format!("--window-size={},{}", VIEWPORT.0, VIEWPORT.1),
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting Chromium: {e}"));
        let (send, receive) = mpsc::channel();
        let stderr = child.stderr.take().expect("piped stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.find("ws://") {
                    let _ = send.send(line[at..].trim().to_string());
                }
            }
        });
        let url = match receive.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!("Chromium did not open its DevTools endpoint within 60 s");
            }
        };
        let (socket, _) = tungstenite::connect(url.as_str())
            .unwrap_or_else(|e| panic!("connecting to Chromium at {url}: {e}"));
        if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
            stream
                .set_read_timeout(Some(Duration::from_secs(60)))
                .expect("a read timeout");
        }
        let mut browser = Browser {
            child,
            socket,
            session: String::new(),
            next_id: 0,
            errors: Vec::new(),
            _profile: profile,
        };
        let target = browser.call(false, "Target.createTarget", json!({"url": "about:blank"}));
        let target = target["targetId"]
            .as_str()
            .expect("a target id")
            .to_string();
        let attached = browser.call(
            false,
            "Target.attachToTarget",
            json!({"targetId": target, "flatten": true}),
        );
        browser.session = attached["sessionId"]
            .as_str()
            .expect("a session id")
            .to_string();
        browser.page("Page.enable", json!({}));
        browser.page("Runtime.enable", json!({}));
        browser.page(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": VIEWPORT.0, "height": VIEWPORT.1, "deviceScaleFactor": 1, "mobile": false}),
        );
        browser
    }

    /// Sends a command (to the page's session, or to the browser) and
    /// waits for its answer; events that come meanwhile are looked at for
    /// errors of the page.
    fn call(&mut self, on_page: bool, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if on_page {
            message["sessionId"] = json!(self.session);
        }
        self.socket
            .send(Message::text(message.to_string()))
            .unwrap_or_else(|e| panic!("{method}: sending to Chromium: {e}"));
        loop {
            let frame = self
                .socket
                .read()
                .unwrap_or_else(|e| panic!("{method}: reading from Chromium: {e}"));
            let Message::Text(text) = frame else { continue };
            let value: Value = serde_json::from_str(text.as_str()).expect("DevTools JSON");
            if value["id"].as_u64() == Some(id) {
                if let Some(error) = value.get("error") {
                    panic!("{method}: {error}");
                }
                return value["result"].clone();
            }
            self.note_event(&value);
        }
    }

    fn note_event(&mut self, event: &Value) {
        match event["method"].as_str() {
            Some("Runtime.exceptionThrown") => self.errors.push(format!(
                "exception: {}",
                event["params"]["exceptionDetails"]["exception"]["description"]
            )),
            Some("Runtime.consoleAPICalled") if event["params"]["type"] == "error" => self
                .errors
                .push(format!("console.error: {}", event["params"]["args"])),
            _ => {}
        }
    }

    fn page(&mut self, method: &str, params: Value) -> Value {
        self.call(true, method, params)
    }

    /// Loads `url` (returns once navigation started; wait for the page's
    /// own signal of being ready).
    pub(crate) fn navigate(&mut self, url: &str) {
        let answer = self.page("Page.navigate", json!({"url": url}));
        if let Some(error) = answer.get("errorText") {
            panic!("navigating to {url}: {error}");
        }
    }

    /// The value of a JavaScript expression (promises awaited).
    pub(crate) fn eval(&mut self, expression: &str) -> Value {
        let answer = self.page(
            "Runtime.evaluate",
            json!({"expression": expression, "awaitPromise": true, "returnByValue": true}),
        );
        if let Some(details) = answer.get("exceptionDetails") {
            panic!("evaluating {expression}: {details}");
        }
        answer["result"]["value"].clone()
    }

    /// Waits until `expression` is truthy and returns its value; fails
    /// after `limit` with the page's text and errors.
    pub(crate) fn wait_for(&mut self, what: &str, expression: &str, limit: Duration) -> Value {
        let started = Instant::now();
        loop {
            let value = self.eval(expression);
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return value;
            }
            if started.elapsed() > limit {
                let text = self.eval("document.body ? document.body.innerText.slice(0, 3000) : ''");
                panic!(
                    "waited {limit:?} for {what} ({expression}); the page says:\n{}\npage errors: {:?}",
                    text.as_str().unwrap_or(""),
                    self.errors
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Presses a key (e.g. "Tab", "Enter") as a user would.
    pub(crate) fn press(&mut self, key: &str, code: u32) {
        for kind in ["keyDown", "keyUp"] {
            self.page(
                "Input.dispatchKeyEvent",
                json!({"type": kind, "key": key, "code": key, "windowsVirtualKeyCode": code}),
            );
        }
    }

    /// A PNG of the whole page (up to 4000 pixels high) written to `path`.
    pub(crate) fn screenshot(&mut self, path: &Path) {
        let height = self
            .eval("Math.min(4000, document.documentElement.scrollHeight)")
            .as_f64()
            .unwrap_or(f64::from(VIEWPORT.1));
        let shot = self.page(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true,
                   "clip": {"x": 0, "y": 0, "width": VIEWPORT.0, "height": height, "scale": 1}}),
        );
        let data = shot["data"].as_str().expect("screenshot data");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .expect("base64 PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("the screenshot directory");
        }
        std::fs::write(path, bytes).expect("writing the screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.socket.close(None);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
