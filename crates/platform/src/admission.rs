//! Overload protection for every service: how many calls it works on at once, how long a call
//! may wait for its turn, and how many calls one caller may have in flight, so one partner
//! system's burst cannot starve the office's desks.
//!
//! A call turned away is answered at once and costs nothing: UNAVAILABLE when the service is
//! full (any client may retry it with backoff), RESOURCE_EXHAUSTED when the caller itself has
//! too many calls in flight (its own quota; retrying at once will not help). Both carry a
//! `google.rpc.RetryInfo`. Memory stays bounded: at most `max_in_flight` calls run and as many
//! again wait, each at most `queue_wait` and never past its deadline.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::{
    sync::{OwnedSemaphorePermit, Semaphore},
    time::Instant,
};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::auth::{Principal, Role};

/// The limits of one service.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Calls worked on at once.
    pub max_in_flight: usize,
    /// Longest a call waits for a free slot.
    pub queue_wait: Duration,
    /// Calls one caller may have in flight at once (waiting ones included).
    pub max_per_caller: usize,
}

/// The admission of one service's calls (see the module).
#[derive(Debug)]
pub struct Admission {
    limits: Limits,
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    callers: Arc<Mutex<HashMap<String, usize>>>,
}

/// A call's right to run; dropping it frees the slot and the caller's count.
#[derive(Debug)]
pub struct Ticket {
    _slot: OwnedSemaphorePermit,
    _caller: CallerShare,
}

#[derive(Debug)]
struct CallerShare {
    key: String,
    callers: Arc<Mutex<HashMap<String, usize>>>,
}

impl Drop for CallerShare {
    fn drop(&mut self) {
        let mut callers = self.callers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = callers.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                callers.remove(&self.key);
            }
        }
    }
}

/// What the client is told to wait before a retry.
const RETRY_AFTER: Duration = Duration::from_millis(200);

impl Admission {
    /// Admission under `limits`.
    pub fn new(limits: Limits) -> Self {
        Admission {
            slots: Arc::new(Semaphore::new(limits.max_in_flight)),
            waiting: AtomicUsize::new(0),
            callers: Arc::default(),
            limits,
        }
    }

    /// A ticket for a call of `caller` (its [`caller_key`]), waiting for a slot at most until
    /// `deadline` or the queue wait; otherwise the status to answer.
    pub async fn admit(&self, caller: String, deadline: Instant) -> Result<Ticket, Status> {
        let caller = self.share(caller)?;
        let slot = match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => self.wait_for_slot(deadline).await?,
        };
        Ok(Ticket {
            _slot: slot,
            _caller: caller,
        })
    }

    fn share(&self, key: String) -> Result<CallerShare, Status> {
        let mut callers = self.callers.lock().unwrap_or_else(|e| e.into_inner());
        let count = callers.entry(key.clone()).or_default();
        if *count >= self.limits.max_per_caller {
            drop(callers);
            metrics::counter!("grpc_server_calls_shed_total", "cause" => "caller_limit")
                .increment(1);
            return Err(turned_away(
                Code::ResourceExhausted,
                format!(
                    "this caller already has {} calls in flight, the most one caller may have; \
                     wait for their answers",
                    self.limits.max_per_caller
                ),
            ));
        }
        *count += 1;
        Ok(CallerShare {
            key,
            callers: Arc::clone(&self.callers),
        })
    }

    async fn wait_for_slot(&self, deadline: Instant) -> Result<OwnedSemaphorePermit, Status> {
        let full = || {
            metrics::counter!("grpc_server_calls_shed_total", "cause" => "capacity").increment(1);
            turned_away(
                Code::Unavailable,
                "the service is at capacity; retry with backoff".into(),
            )
        };
        // As many may wait as may run; beyond that a call is turned away at once.
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.limits.max_in_flight {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(full());
        }
        let until = deadline.min(Instant::now() + self.limits.queue_wait);
        let slot = tokio::time::timeout_at(until, Arc::clone(&self.slots).acquire_owned()).await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        match slot {
            Ok(Ok(slot)) => Ok(slot),
            _ => Err(full()),
        }
    }
}

/// Whose quota a call counts against: a partner system's calls are its partner's, whatever
/// token it holds; everyone else's are their subject's.
pub fn caller_key(principal: &Principal) -> String {
    match &principal.partner_id {
        Some(partner) if principal.has(Role::Partner) => format!("partner:{partner}"),
        _ => format!("sub:{}", principal.subject),
    }
}

fn turned_away(code: Code, message: String) -> Status {
    Status::with_error_details(
        code,
        message,
        ErrorDetails::with_retry_info(Some(RETRY_AFTER)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn principal(subject: &str, partner: Option<&str>) -> Principal {
        Principal {
            subject: subject.into(),
            roles: match partner {
                Some(_) => [Role::Partner].into(),
                None => [Role::Advisor].into(),
            },
            team_id: None,
            partner_id: partner.map(Into::into),
            expires_at: Utc::now(),
        }
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[tokio::test]
    async fn one_caller_is_held_to_its_share_while_others_still_get_in() {
        let admission = Admission::new(Limits {
            max_in_flight: 10,
            queue_wait: Duration::from_millis(10),
            max_per_caller: 2,
        });
        let a = principal("advisor-1", None);
        let first = admission
            .admit(caller_key(&a), soon())
            .await
            .expect("first");
        let _second = admission
            .admit(caller_key(&a), soon())
            .await
            .expect("second");
        let refused = admission
            .admit(caller_key(&a), soon())
            .await
            .expect_err("third");
        assert_eq!(refused.code(), Code::ResourceExhausted);
        assert!(refused.get_details_retry_info().is_some());
        admission
            .admit(caller_key(&principal("advisor-2", None)), soon())
            .await
            .expect("someone else");
        drop(first);
        admission
            .admit(caller_key(&a), soon())
            .await
            .expect("a share freed");
    }

    #[tokio::test]
    async fn a_partner_s_tokens_share_one_quota() {
        let admission = Admission::new(Limits {
            max_in_flight: 10,
            queue_wait: Duration::from_millis(10),
            max_per_caller: 1,
        });
        let _held = admission
            .admit(caller_key(&principal("system-a", Some("p1"))), soon())
            .await
            .expect("first");
        let refused = admission
            .admit(caller_key(&principal("system-b", Some("p1"))), soon())
            .await
            .expect_err("same partner");
        assert_eq!(refused.code(), Code::ResourceExhausted);
    }

    #[tokio::test]
    async fn a_full_service_queues_briefly_then_turns_calls_away() {
        let admission = Arc::new(Admission::new(Limits {
            max_in_flight: 1,
            queue_wait: Duration::from_millis(50),
            max_per_caller: 10,
        }));
        let held = admission
            .admit(caller_key(&principal("a", None)), soon())
            .await
            .expect("runs");
        let refused = admission
            .admit(caller_key(&principal("b", None)), soon())
            .await
            .expect_err("no slot in time");
        assert_eq!(refused.code(), Code::Unavailable);
        // A slot freed while waiting is taken.
        let waiter = tokio::spawn({
            let admission = Arc::clone(&admission);
            async move {
                admission
                    .admit(caller_key(&principal("c", None)), soon())
                    .await
                    .map(drop)
            }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        drop(held);
        waiter
            .await
            .expect("joined")
            .expect("admitted after waiting");
    }
}
