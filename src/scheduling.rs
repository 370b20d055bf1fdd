//! How the threads that wait for SQLite are scheduled (docs/PERFORMANCE.md, session 16).
//!
//! sqlx runs every SQLite connection on a thread of its own and sends each result row to the
//! waiting thread as a message of its own. A thread woken by a message may preempt the thread
//! that sent it, so a statement returning a thousand rows cost about two context switches per
//! row, every one of them trading the two threads' working sets in the core's caches. With a
//! million items stored the writer reads about one row per new item (duplicate candidates) and
//! its SQLite thread was preempted 1.5 times per item. A `SCHED_BATCH` thread does not preempt
//! the running thread when it is woken (it waits for the running thread to block or for the
//! scheduler's tick), so the SQLite thread produces a run of rows and the waiting thread takes
//! them in one go. Written by hand: it is one system call, and the crates that wrap thread
//! priorities offer nice values and real-time classes but not this policy.

/// Keeps the calling thread in the `SCHED_BATCH` class while it lives (Linux; elsewhere a no-op).
pub struct BatchScheduling {
    entered: bool,
}

impl BatchScheduling {
    /// Moves the calling thread from the normal class into `SCHED_BATCH`. A thread in another
    /// class (its process started as batch, idle or real-time) is left as it is. A failure (a
    /// sandbox refusing the call, say) is logged and otherwise ignored: it costs speed, never
    /// correctness.
    pub fn enter() -> BatchScheduling {
        let entered = in_normal_class() && set_policy(Policy::Batch);
        BatchScheduling { entered }
    }
}

impl Drop for BatchScheduling {
    fn drop(&mut self) {
        // The thread may be a pooled one (tokio's blocking pool) that runs other work next.
        if self.entered {
            set_policy(Policy::Normal);
        }
    }
}

enum Policy {
    Normal,
    Batch,
}

#[cfg(target_os = "linux")]
fn in_normal_class() -> bool {
    // SAFETY: no arguments besides the calling thread's pid 0.
    unsafe { libc::sched_getscheduler(0) == libc::SCHED_OTHER }
}

#[cfg(target_os = "linux")]
fn set_policy(policy: Policy) -> bool {
    let class = match policy {
        Policy::Normal => libc::SCHED_OTHER,
        Policy::Batch => libc::SCHED_BATCH,
    };
    let parameters = libc::sched_param { sched_priority: 0 };
    // SAFETY: `parameters` is a valid sched_param for the whole call; pid 0 is the calling thread.
    let result = unsafe { libc::sched_setscheduler(0, class, &parameters) };
    if result != 0 {
        tracing::debug!(
            error = %std::io::Error::last_os_error(),
            "could not change the thread's scheduling class"
        );
    }
    result == 0
}

#[cfg(not(target_os = "linux"))]
fn in_normal_class() -> bool {
    false
}

#[cfg(not(target_os = "linux"))]
fn set_policy(_policy: Policy) -> bool {
    false
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::BatchScheduling;

    fn policy() -> i32 {
        // SAFETY: no arguments besides the calling thread's pid 0.
        unsafe { libc::sched_getscheduler(0) }
    }

    #[test]
    fn a_normal_thread_is_batch_while_the_guard_lives_and_normal_after() {
        std::thread::spawn(|| {
            let initial = policy();
            let guard = BatchScheduling::enter();
            if initial == libc::SCHED_OTHER {
                assert_eq!(policy(), libc::SCHED_BATCH);
            } else {
                assert_eq!(policy(), initial, "a thread of another class is left alone");
            }
            drop(guard);
            assert_eq!(policy(), initial);
        })
        .join()
        .expect("the test thread");
    }
}
