//! The keep-alive timer: when to send PINGREQ, and when silence means the connection is gone.
//!
//! The rule: the client sends PINGREQ when it has sent nothing for the keep alive ([MQTT-3.1.2-22]), and the
//! connection is lost when **no packet at all** arrives within **half the keep alive** after that PINGREQ. A
//! silent connection is therefore given up 1.5 × keep alive after our last packet: the same bound the server
//! applies to us ([MQTT-3.1.2-24]). Any packet from the server, not only PINGRESP, proves the connection alive.

use std::time::Duration;

use web_time::Instant;

/// What the timer asks for when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expired {
    /// Send PINGREQ now.
    SendPing,
    /// Nothing arrived in time after our PINGREQ.
    Lost,
}

/// Keep-alive state of one connection.
#[derive(Debug)]
pub(crate) struct KeepAlive {
    /// The keep alive in force; `None` when it is 0 (disabled) or before CONNACK.
    interval: Option<Duration>,
    /// When we last sent a packet: a packet counts as sent at the `now` of the call that queued it.
    last_sent: Option<Instant>,
    /// While a PINGREQ is unanswered: when the connection is given up.
    response_deadline: Option<Instant>,
}

impl KeepAlive {
    /// No timer: before CONNACK, or with keep alive 0.
    pub(crate) fn new() -> Self {
        Self {
            interval: None,
            last_sent: None,
            response_deadline: None,
        }
    }

    /// Starts the timer with the keep alive in force, in seconds, keeping the time of the last packet sent.
    pub(crate) fn start(&mut self, seconds: u16) {
        self.interval = (seconds > 0).then(|| Duration::from_secs(u64::from(seconds)));
        self.response_deadline = None;
    }

    /// Stops the timer (the connection ended).
    pub(crate) fn stop(&mut self) {
        self.interval = None;
        self.response_deadline = None;
    }

    /// We sent a packet: the next PINGREQ is due a keep alive from now.
    pub(crate) fn on_sent(&mut self, now: Instant) {
        self.last_sent = Some(now);
    }

    /// A packet arrived: the server is alive, an outstanding PINGREQ needs no answer any more.
    pub(crate) fn on_received(&mut self) {
        self.response_deadline = None;
    }

    /// When [`Self::on_timeout`] has work to do.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let interval = self.interval?;
        Some(self.response_deadline.unwrap_or(self.last_sent? + interval))
    }

    /// What is due at `now`, if anything. Returning [`Expired::SendPing`] starts the response deadline; the
    /// caller queues the PINGREQ.
    pub(crate) fn on_timeout(&mut self, now: Instant) -> Option<Expired> {
        let interval = self.interval?;
        let last_sent = self.last_sent?;
        match self.response_deadline {
            Some(deadline) if now >= deadline => Some(Expired::Lost),
            Some(_) => None,
            None if now >= last_sent + interval => {
                self.response_deadline = Some(now + interval / 2);
                Some(Expired::SendPing)
            }
            None => None,
        }
    }
}
