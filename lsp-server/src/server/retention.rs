//! Retention: with `retentionDays` set, program states whose last run is older
//! than that are removed in the background, at start, hourly, and whenever the
//! setting changes. Without it, states are kept until the student deletes them.

use crate::store::StoreHandle;
use std::time::Duration;
use tokio::sync::watch;

/// How often expired states are looked for while the server runs.
const EXPIRY_INTERVAL: Duration = Duration::from_secs(3600);

/// The setting as the background task sees it; the task ends when this drops.
#[derive(Debug)]
pub(super) struct Retention {
    days: watch::Sender<Option<u32>>,
}

impl Default for Retention {
    fn default() -> Self {
        Retention { days: watch::channel(None).0 }
    }
}

impl Retention {
    /// Starts expiring in `store` under the current setting (call once, when the store opens).
    pub(super) fn start(&self, store: StoreHandle) {
        tokio::spawn(expire_loop(store, self.days.subscribe()));
    }

    /// A new value of the setting; the task acts on it at once.
    pub(super) fn set(&self, days: Option<u32>) {
        self.days.send_if_modified(|current| {
            let changed = *current != days;
            *current = days;
            changed
        });
    }
}

/// The trace timestamp `days` before `now_unix`: states last run before it have expired.
pub fn cutoff(now_unix: i64, days: u32) -> String {
    pencil_core::trace::format_timestamp(now_unix - i64::from(days) * 86_400)
}

async fn expire_loop(store: StoreHandle, mut days: watch::Receiver<Option<u32>>) {
    loop {
        let current = *days.borrow_and_update();
        if let Some(days) = current {
            let cutoff = cutoff(crate::clock::now_unix(), days);
            match store.call(move |db| db.expire_before(&cutoff)).await {
                Ok(r) if r.states > 0 => {
                    tracing::info!("retention: removed {} program states last run over {days} days ago", r.states);
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("retention: expired states could not be removed: {e}"),
            }
        }
        tokio::select! {
            () = tokio::time::sleep(EXPIRY_INTERVAL) => {}
            changed = days.changed() => if changed.is_err() { return },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoff_is_whole_days_back() {
        let now = pencil_core::trace::parse_timestamp("2024-03-10 12:00:00").expect("ts");
        assert_eq!(cutoff(now, 30), "2024-02-09 12:00:00");
        assert_eq!(cutoff(now, 1), "2024-03-09 12:00:00");
    }
}
