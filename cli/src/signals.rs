//! SIGINT and SIGTERM for commands that must clean up before they exit
//! (an embedded transactor releases its lease).

use crate::exit::Code;

/// Which stop signal arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
}

impl Stop {
    /// The exit code of a command stopped by this signal (128 + its
    /// number, as a shell reports a process the signal ended).
    pub(crate) fn code(self) -> Code {
        match self {
            Stop::Interrupt => Code::Interrupted,
            Stop::Terminate => Code::Terminated,
        }
    }
}

/// Waits for SIGINT or SIGTERM. From the first poll on, these signals no
/// longer end the process by themselves: the caller decides. If the
/// handlers cannot be installed, waits forever (the default action stays).
pub(crate) async fn stop_requested() -> Stop {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut interrupt), Ok(mut terminate)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = interrupt.recv() => Stop::Interrupt,
            _ = terminate.recv() => Stop::Terminate,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        Stop::Interrupt
    }
}
