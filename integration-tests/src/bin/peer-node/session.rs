//! The peer mode: one connection, commands from stdin, answers on stdout.

use std::sync::Arc;

use model::edn::{self, Edn};
use peer::{Config, Connection, Error, Peer};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::watch::Watcher;
use crate::{failed, options};

/// Connects to the database `args` names and serves commands until `quit`
/// or the end of stdin.
pub(crate) async fn run(args: &[String]) -> Result<(), String> {
    let options = options(args)?;
    options.check(&["report-buffer", "cache-mib"])?;
    let [uri] = options.positional else {
        return Err("peer mode takes one URI".into());
    };
    let mut config = Config::default();
    if let Some(n) = options.get("report-buffer") {
        config.report_buffer = n as usize;
    }
    if let Some(mib) = options.get("cache-mib") {
        config.cache_bytes = mib << 20;
    }
    let peer = Peer::new(config).map_err(|e| e.to_string())?;
    let conn = peer.connect(uri).await.map_err(|e| e.to_string())?;
    println!("connected {}", conn.basis_t());
    let mut session = Session {
        conn,
        watcher: None,
    };
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let line = line.trim();
        if line == "quit" {
            break;
        }
        if line.is_empty() {
            continue;
        }
        match session.command(line).await {
            Ok(answer) => println!("{answer}"),
            Err(e) => println!("{}", failed(&e)),
        }
    }
    Ok(())
}

struct Session {
    conn: Connection,
    watcher: Option<Watcher>,
}

impl Session {
    async fn command(&mut self, line: &str) -> Result<String, Error> {
        let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
        match verb {
            "transact" => self.transact(rest).await,
            "sync" if rest.is_empty() => {
                Ok(format!("synced {}", self.conn.sync().await?.basis_t()))
            }
            "sync" => {
                let t = rest
                    .parse()
                    .map_err(|e| invalid(format!("sync {rest}: {e}")))?;
                Ok(format!("synced {}", self.conn.sync_t(t).await?.basis_t()))
            }
            "q" => self.query(rest).await,
            "watch" => self.watch(rest),
            "basis" => Ok(format!("basis {}", self.conn.basis_t())),
            "transactor" => Ok(match self.conn.transactor() {
                Some(t) => format!("transactor {} {}", t.endpoint, t.epoch),
                None => "transactor none".into(),
            }),
            other => Err(invalid(format!("unknown command `{other}`"))),
        }
    }

    async fn transact(&self, tx: &str) -> Result<String, Error> {
        let report = self.conn.transact(tx).await?;
        let mut tempids: Vec<_> = report.tempids.iter().collect();
        tempids.sort();
        let tempids: Vec<String> = tempids.iter().map(|(k, v)| format!("{k}={v}")).collect();
        Ok(format!("committed {} {}", report.t(), tempids.join(" "))
            .trim_end()
            .to_string())
    }

    async fn query(&self, text: &str) -> Result<String, Error> {
        let db = self.conn.db();
        let text = text.to_string();
        let found = tokio::task::spawn_blocking(move || query::q(text.as_str(), &[db.into()]))
            .await
            .map_err(|e| Error::new(peer::ErrorKind::Internal, format!("query task: {e}")))?
            .map_err(|e| Error::new(e.shared_kind(), e.to_string()))?;
        Ok(format!("result {}", found.to_edn()))
    }

    fn watch(&mut self, attr: &str) -> Result<String, Error> {
        if self.watcher.is_some() {
            return Err(invalid("already watching"));
        }
        let attr = match edn::parse(attr) {
            Ok(Edn::Keyword(k)) => k,
            _ => {
                return Err(invalid(format!(
                    "watch takes an attribute keyword, not `{attr}`"
                )));
            }
        };
        let queue = self.conn.tx_report_queue()?;
        self.watcher = Some(Watcher::start(queue, Arc::new(attr)));
        Ok("watching".into())
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(peer::ErrorKind::Invalid, message)
}
