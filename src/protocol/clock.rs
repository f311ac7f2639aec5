//! Lamport's logical clock (IR1 and IR2 of the 1978 paper).

use super::Timestamp;

/// A Lamport clock. It starts at 0 and never decreases.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct LamportClock {
    now: Timestamp,
}

impl LamportClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// The current value.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// A local step (a request or a release): clock += 1. Returns the new value.
    pub fn tick(&mut self) -> Timestamp {
        self.now += 1;
        self.now
    }

    /// A receive: clock = max(clock, msg_ts) + 1, so the receive event is later than the
    /// send event. Returns the new value.
    pub fn receive(&mut self, msg_ts: Timestamp) -> Timestamp {
        self.now = self.now.max(msg_ts) + 1;
        self.now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_at_zero_and_ticks_by_one() {
        let mut clock = LamportClock::new();
        assert_eq!(clock.now(), 0);
        assert_eq!(clock.tick(), 1);
        assert_eq!(clock.tick(), 2);
    }

    #[test]
    fn receive_jumps_past_a_later_message() {
        let mut clock = LamportClock::new();
        clock.tick();
        assert_eq!(clock.receive(7), 8);
    }

    #[test]
    fn receive_of_an_older_message_still_advances() {
        let mut clock = LamportClock::new();
        for _ in 0..5 {
            clock.tick();
        }
        assert_eq!(clock.receive(2), 6);
    }
}
