//! Whether a card's command was answered: after a command the card says it is waiting for the device until
//! the state topic brings a new message, and that there was no answer once [`ANSWER_TIMEOUT`] passed without
//! one. Pure: the view feeds it the state topic's message count and the timer's expiry.

use std::time::Duration;

/// How long a card waits for its device to report after a command before it says there was no answer.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// What became of the last command.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Answer {
    /// No command waits: the card shows what the device reported.
    #[default]
    Settled,
    /// A command was sent and the device has not reported since.
    Waiting,
    /// [`ANSWER_TIMEOUT`] passed without a report.
    NoAnswer,
}

/// The last command of one card and whether its device answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Command {
    answer: Answer,
    /// The state topic's message count when the command was sent: any other count is a report since.
    seen: Option<u64>,
    /// The number of the last command, so an older command's timer does not judge a newer one.
    number: u32,
}

impl Command {
    /// What became of the last command.
    pub fn answer(&self) -> Answer {
        self.answer
    }

    /// A command was sent while the state topic had `count` messages. Returns its number for
    /// [`Command::timed_out`].
    pub fn sent(&mut self, count: Option<u64>) -> u32 {
        self.number = self.number.wrapping_add(1);
        self.seen = count;
        self.answer = Answer::Waiting;
        self.number
    }

    /// The state topic has `count` messages now: a message since the command answers it (also after the
    /// timeout: a late answer is still the device's state).
    pub fn reported(&mut self, count: Option<u64>) {
        if self.answer != Answer::Settled && count != self.seen {
            self.answer = Answer::Settled;
        }
    }

    /// The timer of command `number` ran out.
    pub fn timed_out(&mut self, number: u32) {
        if self.answer == Answer::Waiting && number == self.number {
            self.answer = Answer::NoAnswer;
        }
    }
}
