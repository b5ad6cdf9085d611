//! When model runs may not start: the daily or monthly budget (server
//! settings `BUDGET_DAILY_USD`, `BUDGET_MONTHLY_USD`) is spent, or a run hit
//! the model API's rate limit and the server waits out its retry-after
//! instead of sending more. Held runs stay queued and say why; script
//! agents, which need no model, still run.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, TimeZone, Utc};

use super::repo::RunRepo;
use crate::db::StoreError;

/// How long a spend figure is trusted before it is read again (a finished
/// run makes it stale at once).
const SPEND_FRESH: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Budget {
    pub daily_usd: Option<f64>,
    pub monthly_usd: Option<f64>,
}

/// The budget that ran out.
#[derive(Debug, Clone, PartialEq)]
pub struct Exceeded {
    pub period: &'static str,
    pub limit_usd: f64,
    pub spent_usd: f64,
    pub resumes: DateTime<Utc>,
}

impl Exceeded {
    pub fn reason(&self) -> String {
        format!(
            "the {} budget of ${:.2} is spent (${:.2} used); model runs wait until {} (raise BUDGET_{}_USD to go on)",
            self.period,
            self.limit_usd,
            self.spent_usd,
            self.resumes.format("%Y-%m-%d %H:%M UTC"),
            self.period.to_uppercase()
        )
    }
}

/// The UTC day and month a budget counts, as of a moment.
pub struct Periods {
    pub day: DateTime<Utc>,
    pub month: DateTime<Utc>,
    pub next_month: DateTime<Utc>,
}

impl Periods {
    pub fn of(now: DateTime<Utc>) -> Periods {
        let day = Utc.with_ymd_and_hms(now.year(), now.month(), now.day(), 0, 0, 0).single().unwrap_or(now);
        let month = Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0).single().unwrap_or(now);
        let next_month = if now.month() == 12 {
            Utc.with_ymd_and_hms(now.year() + 1, 1, 1, 0, 0, 0)
        } else {
            Utc.with_ymd_and_hms(now.year(), now.month() + 1, 1, 0, 0, 0)
        }
        .single()
        .unwrap_or(now);
        Periods { day, month, next_month }
    }
}

#[derive(Default)]
pub struct Gate {
    budget: Budget,
    rate_limited_until: Mutex<Option<DateTime<Utc>>>,
    /// The last budget look: when, and what it found.
    looked: Mutex<Option<(Instant, Option<Exceeded>)>>,
    /// A run finished since the last look: the spend changed.
    stale: std::sync::atomic::AtomicBool,
}

impl Gate {
    pub fn new(budget: Budget) -> Gate {
        Gate { budget, ..Gate::default() }
    }

    /// The limits, as the server's settings give them.
    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// A run hit the rate limit: no model run starts before `until`.
    pub fn rate_limited(&self, until: DateTime<Utc>) {
        let mut r = self.rate_limited_until.lock().unwrap_or_else(|p| p.into_inner());
        *r = Some(r.map_or(until, |u| u.max(until)));
    }

    /// A run finished: the spend is to be read again.
    pub fn spent(&self) {
        self.stale.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Looks at the spend when it may have changed; returns a budget that
    /// ran out since the last look, once, for a notice.
    pub async fn refresh(&self, repo: &RunRepo, now: DateTime<Utc>) -> Result<Option<Exceeded>, StoreError> {
        let old = self
            .looked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_none_or(|(at, _)| at.elapsed() >= SPEND_FRESH);
        let stale = self.stale.swap(false, std::sync::atomic::Ordering::Relaxed) || old;
        if !stale || (self.budget.daily_usd.is_none() && self.budget.monthly_usd.is_none()) {
            return Ok(None);
        }
        let Periods { day, month, next_month } = Periods::of(now);
        let mut exceeded = None;
        if let Some(limit) = self.budget.monthly_usd {
            let spent = repo.spend_since(month).await?;
            if spent >= limit {
                exceeded =
                    Some(Exceeded { period: "monthly", limit_usd: limit, spent_usd: spent, resumes: next_month });
            }
        }
        if let (None, Some(limit)) = (&exceeded, self.budget.daily_usd) {
            let spent = repo.spend_since(day).await?;
            if spent >= limit {
                let resumes = day + chrono::TimeDelta::days(1);
                exceeded = Some(Exceeded { period: "daily", limit_usd: limit, spent_usd: spent, resumes });
            }
        }
        let mut looked = self.looked.lock().unwrap_or_else(|p| p.into_inner());
        let before = looked.as_ref().and_then(|(_, e)| e.as_ref().map(|e| (e.period, e.resumes)));
        let news = exceeded.clone().filter(|e| before != Some((e.period, e.resumes)));
        *looked = Some((Instant::now(), exceeded));
        Ok(news)
    }

    /// Why model runs may not start now, if they may not.
    pub fn held(&self, now: DateTime<Utc>) -> Option<String> {
        if let Some(until) = *self.rate_limited_until.lock().unwrap_or_else(|p| p.into_inner())
            && until > now
        {
            return Some(format!(
                "the model API is rate limited; model runs wait until {} (the retry-after it gave)",
                until.format("%H:%M:%S UTC")
            ));
        }
        let looked = self.looked.lock().unwrap_or_else(|p| p.into_inner());
        looked.as_ref().and_then(|(_, e)| e.as_ref()).filter(|e| e.resumes > now).map(Exceeded::reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_limit_holds_model_runs_until_its_retry_after() {
        let gate = Gate::new(Budget::default());
        let now = Utc::now();
        assert_eq!(gate.held(now), None);
        gate.rate_limited(now + chrono::TimeDelta::seconds(30));
        gate.rate_limited(now + chrono::TimeDelta::seconds(10)); // a shorter wait does not shorten it
        assert!(gate.held(now + chrono::TimeDelta::seconds(20)).unwrap().contains("rate limited"));
        assert_eq!(gate.held(now + chrono::TimeDelta::seconds(31)), None);
    }

    #[test]
    fn the_reason_names_the_budget_and_the_fix() {
        let e = Exceeded {
            period: "monthly",
            limit_usd: 20.0,
            spent_usd: 20.5,
            resumes: Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
        };
        assert_eq!(
            e.reason(),
            "the monthly budget of $20.00 is spent ($20.50 used); model runs wait until 2026-12-01 00:00 UTC \
             (raise BUDGET_MONTHLY_USD to go on)"
        );
    }
}
