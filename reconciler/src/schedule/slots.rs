//! When a schedule fires: its slots, and how long each run waits after one.
//!
//! A slot is an instant (UTC) at which a schedule is due, and it is the
//! unique key of a fire: every replica, and one server before and after a
//! restart, computes the same slots from the same spec without stored state,
//! so a fire can be recorded once per (schedule, slot).
//!
//! - `every: D` slots sit at whole multiples of `D` since the UNIX epoch; the
//!   time zone plays no part.
//! - `cron` slots are read on the wall clock of the schedule's time zone
//!   (default UTC) by croner, which resolves DST: a fixed time that falls in
//!   the spring gap fires at the first instant after it, a fixed time in the
//!   repeated autumn hour fires once (the earlier instant), and an interval
//!   expression such as `30 * * * *` fires in both halves of the repeated hour,
//!   so once per real hour.
//!
//! Jitter delays the run, not the slot: it is derived from the schedule name
//! and the slot, so all replicas agree on it. Nothing here reads the clock;
//! callers pass `now`.

use std::collections::VecDeque;
use std::time::Duration;

use car_schemas::kinds::ScheduleSpec;
use car_schemas::kinds::schedule::Misfire;
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use chrono_tz::Tz;
use croner::Cron;

/// When a schedule fires, from its spec.
#[derive(Debug, Clone)]
pub struct Cadence {
    rule: Rule,
    /// The exclusive upper bound of the jitter, in nanoseconds (0: none).
    jitter_max: u64,
}

#[derive(Debug, Clone)]
enum Rule {
    Cron(Box<Cron>, Tz),
    /// The period in nanoseconds, always positive.
    Every(i128),
    /// Neither `cron` nor `every` (an invalid spec): no slots.
    Never,
}

/// The slots reached since the last look, see [`Cadence::due`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// The newest slots, oldest first.
    pub slots: Vec<DateTime<Utc>>,
    /// How many slots there were, including those left out of `slots`.
    pub total: usize,
}

const NANOS_PER_SEC: i128 = 1_000_000_000;

impl Cadence {
    /// The cadence of `spec`. A spec with neither `cron` nor `every` (which
    /// validation rejects), or with `every: 0s`, never fires.
    pub fn of(spec: &ScheduleSpec) -> Cadence {
        let tz = spec.timezone.as_ref().map_or(Tz::UTC, |tz| tz.0);
        let rule = match (&spec.cron, &spec.every) {
            (Some(cron), _) => Rule::Cron(Box::new(cron.cron().clone()), tz),
            (None, Some(every)) => match i128::try_from(every.get().as_nanos()) {
                Ok(period) if period > 0 => Rule::Every(period),
                _ => Rule::Never,
            },
            (None, None) => Rule::Never,
        };
        let jitter = spec.jitter.as_ref().map_or(Duration::ZERO, |j| j.get());
        Cadence { rule, jitter_max: u64::try_from(jitter.as_nanos()).unwrap_or(u64::MAX) }
    }

    /// The first slot strictly after `t` (None if the expression never fires again).
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.rule {
            Rule::Cron(cron, tz) => {
                // croner counts in whole seconds and steps off `t`'s second,
                // so its answer lies strictly after `t`.
                let local = t.trunc_subsecs(0).with_timezone(tz);
                cron.find_next_occurrence(&local, false).ok().map(|next| next.with_timezone(&Utc))
            }
            Rule::Every(period) => instant((nanos(t).div_euclid(*period) + 1) * period),
            Rule::Never => None,
        }
    }

    /// Slots strictly after `after` and at or before `now`, oldest first, at
    /// most `limit` of them: the newest ones, since after long downtime those
    /// matter. `total` counts them all. The cost grows with `total`, so
    /// callers keep `after` recent (e.g. the last slot fired).
    pub fn due(&self, after: DateTime<Utc>, now: DateTime<Utc>, limit: usize) -> Due {
        let mut slots = VecDeque::new();
        let mut total = 0;
        let mut cursor = after;
        while let Some(slot) = self.next_after(cursor).filter(|slot| *slot <= now) {
            total += 1;
            if slots.len() == limit {
                slots.pop_front();
            }
            if limit > 0 {
                slots.push_back(slot);
            }
            cursor = slot;
        }
        Due { slots: slots.into(), total }
    }

    /// How long the run for `slot` of the schedule named `schedule` waits: a
    /// delay in `[0, jitter)`, the same on every replica and every release
    /// (a stable hash of name and slot), zero when no jitter is configured.
    pub fn jitter(&self, schedule: &str, slot: DateTime<Utc>) -> Duration {
        // The slot's bytes have a fixed length, so the input is unambiguous.
        let hash = fnv1a64(&[
            schedule.as_bytes(),
            &slot.timestamp().to_le_bytes(),
            &slot.timestamp_subsec_nanos().to_le_bytes(),
        ]);
        // The hash's high bits are its best mixed: scale it into [0, max)
        // rather than taking a remainder. The result is below `jitter_max`,
        // so it fits in u64.
        let delay = (u128::from(hash) * u128::from(self.jitter_max)) >> 64;
        Duration::from_nanos(delay as u64)
    }
}

/// Which due slots (oldest first) to run after a gap such as server downtime.
/// `RunOnce` runs only the newest; `Skip` runs only slots at most `tolerance`
/// older than `now`, so a slot reached on time is never missed. Returns
/// `(to_run, missed)`.
pub fn apply_misfire(
    policy: Misfire,
    due: &[DateTime<Utc>],
    now: DateTime<Utc>,
    tolerance: Duration,
) -> (Vec<DateTime<Utc>>, Vec<DateTime<Utc>>) {
    match policy {
        Misfire::RunOnce => match due.split_last() {
            Some((newest, older)) => (vec![*newest], older.to_vec()),
            None => (Vec::new(), Vec::new()),
        },
        Misfire::Skip => {
            let oldest_on_time = TimeDelta::from_std(tolerance)
                .ok()
                .and_then(|tolerance| now.checked_sub_signed(tolerance))
                .unwrap_or(DateTime::<Utc>::MIN_UTC);
            due.iter().partition(|slot| **slot >= oldest_on_time)
        }
    }
}

/// Nanoseconds since the UNIX epoch.
fn nanos(t: DateTime<Utc>) -> i128 {
    i128::from(t.timestamp()) * NANOS_PER_SEC + i128::from(t.timestamp_subsec_nanos())
}

/// The instant `nanos` after the UNIX epoch, if chrono can represent it.
fn instant(nanos: i128) -> Option<DateTime<Utc>> {
    let secs = i64::try_from(nanos.div_euclid(NANOS_PER_SEC)).ok()?;
    let subsec = u32::try_from(nanos.rem_euclid(NANOS_PER_SEC)).ok()?;
    DateTime::from_timestamp(secs, subsec)
}

/// 64-bit FNV-1a over the concatenated parts: small, and fixed forever,
/// unlike std's `DefaultHasher`.
fn fnv1a64(parts: &[&[u8]]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    parts
        .iter()
        .flat_map(|part| part.iter())
        .fold(OFFSET_BASIS, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(PRIME))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn cadence(fields: Value) -> Cadence {
        let mut spec = json!({"agents": ["disk-space"], "nodes": "all"});
        spec.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
        Cadence::of(&car_schemas::de::from_json::<ScheduleSpec>(&spec).expect("a valid schedule"))
    }

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
    }

    /// Every slot strictly after `from` and at or before `to`.
    fn fires(c: &Cadence, from: &str, to: &str) -> Vec<DateTime<Utc>> {
        let due = c.due(at(from), at(to), usize::MAX);
        assert_eq!(due.slots.len(), due.total);
        due.slots
    }

    fn hours(n: i64) -> TimeDelta {
        TimeDelta::hours(n)
    }

    #[test]
    fn every_slots_sit_on_multiples_of_the_period_since_the_epoch() {
        let c = cadence(json!({"every": "2s", "timezone": "Europe/Berlin"}));
        assert_eq!(c.next_after(at("2026-01-01T00:00:01.5Z")), Some(at("2026-01-01T00:00:02Z")));
        assert_eq!(c.next_after(at("2026-01-01T00:00:02Z")), Some(at("2026-01-01T00:00:04Z")));
        assert_eq!(
            fires(&c, "2026-01-01T00:00:00Z", "2026-01-01T00:00:07Z"),
            [at("2026-01-01T00:00:02Z"), at("2026-01-01T00:00:04Z"), at("2026-01-01T00:00:06Z")]
        );
    }

    #[test]
    fn every_quarter_hour_in_utc() {
        let c = cadence(json!({"cron": "*/15 * * * *"}));
        assert_eq!(c.next_after(at("2026-05-04T10:00:00Z")), Some(at("2026-05-04T10:15:00Z")));
        assert_eq!(c.next_after(at("2026-05-04T10:14:59.9Z")), Some(at("2026-05-04T10:15:00Z")));
        assert_eq!(fires(&c, "2026-05-04T10:00:00Z", "2026-05-04T11:00:00Z").len(), 4);
    }

    #[test]
    fn six_field_cron_counts_seconds() {
        let c = cadence(json!({"cron": "*/10 0 2 * * *"}));
        assert_eq!(
            fires(&c, "2026-05-04T02:00:35Z", "2026-05-04T02:01:00Z"),
            [at("2026-05-04T02:00:40Z"), at("2026-05-04T02:00:50Z")]
        );
    }

    #[test]
    fn daily_nickname_fires_at_midnight_in_the_time_zone() {
        let c = cadence(json!({"cron": "@daily", "timezone": "Europe/Berlin"}));
        assert_eq!(c.next_after(at("2026-01-10T12:00:00Z")), Some(at("2026-01-10T23:00:00Z")));
        assert_eq!(c.next_after(at("2026-07-10T12:00:00Z")), Some(at("2026-07-10T22:00:00Z")));
    }

    #[test]
    fn daily_at_2am_fires_at_3am_on_the_day_2am_does_not_exist() {
        // Berlin, 2026-03-29: 02:00 CET (01:00Z) becomes 03:00 CEST.
        let c = cadence(json!({"cron": "0 2 * * *", "timezone": "Europe/Berlin"}));
        assert_eq!(
            fires(&c, "2026-03-27T12:00:00Z", "2026-03-30T12:00:00Z"),
            [
                at("2026-03-28T02:00:00+01:00"),
                at("2026-03-29T03:00:00+02:00"), // the first instant after the gap
                at("2026-03-30T02:00:00+02:00"),
            ]
        );
    }

    #[test]
    fn daily_at_2am_fires_once_on_the_day_2am_happens_twice() {
        // Berlin, 2026-10-25: 03:00 CEST (01:00Z) becomes 02:00 CET again.
        let c = cadence(json!({"cron": "0 2 * * *", "timezone": "Europe/Berlin"}));
        assert_eq!(
            fires(&c, "2026-10-24T12:00:00Z", "2026-10-26T12:00:00Z"),
            [at("2026-10-25T02:00:00+02:00"), at("2026-10-26T02:00:00+01:00")]
        );
        // Asked from inside the repeated hour, it does not fire again at 02:00 CET.
        assert_eq!(c.next_after(at("2026-10-25T02:30:00+02:00")), Some(at("2026-10-26T02:00:00+01:00")));
    }

    #[test]
    fn hourly_fires_once_per_real_hour_across_fall_back() {
        // The Berlin day 2026-10-25 lasts 25 hours, 02:30 comes twice.
        let c = cadence(json!({"cron": "30 * * * *", "timezone": "Europe/Berlin"}));
        let slots = fires(&c, "2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00");
        assert_eq!(slots.len(), 25);
        assert!(slots.windows(2).all(|w| w[1] - w[0] == hours(1)));
        assert!(slots.contains(&at("2026-10-25T02:30:00+02:00")));
        assert!(slots.contains(&at("2026-10-25T02:30:00+01:00")));
    }

    #[test]
    fn hourly_fires_once_per_real_hour_across_spring_forward() {
        // The Berlin day 2026-03-29 lasts 23 hours, 02:30 never comes.
        let c = cadence(json!({"cron": "30 * * * *", "timezone": "Europe/Berlin"}));
        let slots = fires(&c, "2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00");
        assert_eq!(slots.len(), 23);
        assert!(slots.windows(2).all(|w| w[1] - w[0] == hours(1)));
    }

    #[test]
    fn due_keeps_the_newest_slots_and_counts_all_missed() {
        let c = cadence(json!({"cron": "0 * * * *"}));
        let due = c.due(at("2026-05-04T00:00:00Z"), at("2026-05-04T10:30:00Z"), 3);
        assert_eq!(due.total, 10);
        assert_eq!(due.slots, [at("2026-05-04T08:00:00Z"), at("2026-05-04T09:00:00Z"), at("2026-05-04T10:00:00Z")]);
        assert_eq!(c.due(at("2026-05-04T00:00:00Z"), at("2026-05-04T10:30:00Z"), 0).total, 10);
    }

    #[test]
    fn due_excludes_after_and_includes_now() {
        let c = cadence(json!({"every": "1h"}));
        let due = c.due(at("2026-05-04T01:00:00Z"), at("2026-05-04T02:00:00Z"), 5);
        assert_eq!(due, Due { slots: vec![at("2026-05-04T02:00:00Z")], total: 1 });
        assert_eq!(c.due(at("2026-05-04T02:00:00Z"), at("2026-05-04T02:59:59Z"), 5).total, 0);
    }

    #[test]
    fn a_schedule_without_cron_or_every_never_fires() {
        let c = cadence(json!({}));
        assert_eq!(c.next_after(at("2026-05-04T00:00:00Z")), None);
        assert_eq!(c.due(at("2026-05-04T00:00:00Z"), at("2027-05-04T00:00:00Z"), 5).total, 0);
    }

    fn ten_hourly_slots_until(now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        (0..10).rev().map(|n| now - hours(n)).collect()
    }

    #[test]
    fn misfire_run_once_runs_only_the_newest_of_ten_missed() {
        let now = at("2026-05-04T10:00:00Z");
        let due = ten_hourly_slots_until(now - hours(1));
        let (run, missed) = apply_misfire(Misfire::RunOnce, &due, now, Duration::from_secs(60));
        assert_eq!(run, [due[9]]);
        assert_eq!(missed, due[..9]);
        assert_eq!(apply_misfire(Misfire::RunOnce, &[], now, Duration::ZERO), (vec![], vec![]));
    }

    #[test]
    fn misfire_skip_drops_old_slots_but_runs_one_on_time() {
        let now = at("2026-05-04T10:00:00Z");
        let tolerance = Duration::from_secs(60);
        let old = ten_hourly_slots_until(now - hours(1));
        let (run, missed) = apply_misfire(Misfire::Skip, &old, now, tolerance);
        assert!(run.is_empty());
        assert_eq!(missed, old);

        let mut due = old.clone();
        due.push(now - TimeDelta::seconds(5));
        let (run, missed) = apply_misfire(Misfire::Skip, &due, now, tolerance);
        assert_eq!(run, [now - TimeDelta::seconds(5)]);
        assert_eq!(missed, old);
    }

    #[test]
    fn jitter_is_deterministic_and_within_bounds() {
        let c = cadence(json!({"every": "1h", "jitter": "5m"}));
        let slots = ten_hourly_slots_until(at("2026-05-04T10:00:00Z"));
        for slot in &slots {
            let delay = c.jitter("nightly", *slot);
            assert!(delay < Duration::from_secs(300), "{delay:?}");
            assert_eq!(delay, cadence(json!({"every": "1h", "jitter": "5m"})).jitter("nightly", *slot));
        }
    }

    #[test]
    fn jitter_differs_between_slots_and_schedules() {
        let c = cadence(json!({"every": "1h", "jitter": "5m"}));
        let slot = at("2026-05-04T10:00:00Z");
        let delays: std::collections::BTreeSet<_> =
            ten_hourly_slots_until(slot).into_iter().map(|slot| c.jitter("nightly", slot)).collect();
        assert_eq!(delays.len(), 10);
        assert_ne!(c.jitter("nightly", slot), c.jitter("weekly", slot));
    }

    #[test]
    fn jitter_is_zero_when_not_configured() {
        let c = cadence(json!({"every": "1h"}));
        assert_eq!(c.jitter("nightly", at("2026-05-04T10:00:00Z")), Duration::ZERO);
    }

    #[test]
    fn jitter_hash_is_fnv1a_64() {
        // Reference vectors from the FNV specification: replicas on different
        // releases must agree, so the hash must never change.
        assert_eq!(fnv1a64(&[b""]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(&[b"a"]), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(&[b"foo", b"bar"]), 0x8594_4171_f739_67e8);
    }
}
