//! Enough file descriptors for a run: 10,000 pairs are 20,000 sockets, more than the usual soft limit of 1,024
//! (and than many a hard limit), so the bench raises its own RLIMIT_NOFILE before connecting rather than failing
//! half-way with "Too many open files".

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// Descriptors beyond the sockets: stdio, the runtime's epoll and wakers, /proc reads.
const SPARE: u64 = 64;

/// Makes room for `sockets` more open sockets: raises the soft limit (and, if that is not enough and the process
/// may, the hard limit). Returns the limit in force when it cannot, so the caller can say so.
pub(crate) fn ensure(sockets: u64) -> Result<(), u64> {
    let need = sockets + SPARE;
    let limit = getrlimit(Resource::Nofile);
    // `None` is RLIM_INFINITY.
    let (current, maximum) = (limit.current.unwrap_or(u64::MAX), limit.maximum.unwrap_or(u64::MAX));
    if current >= need {
        return Ok(());
    }
    let raised = |maximum: Option<u64>| Rlimit {
        current: Some(need),
        maximum,
    };
    if maximum >= need && setrlimit(Resource::Nofile, raised(limit.maximum)).is_ok() {
        return Ok(());
    }
    // Only root (CAP_SYS_RESOURCE) may raise the hard limit; anyone else gets the error below.
    if setrlimit(Resource::Nofile, raised(Some(need))).is_ok() {
        return Ok(());
    }
    Err(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_need_is_met() {
        assert_eq!(ensure(10), Ok(()));
        let current = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
        assert!(current >= 10 + SPARE);
    }
}
