//! The names, label helpers and recording helpers of every metric of
//! snf-occi, so that the layers (request counters, auth caches and
//! outcomes) and the Synnefo client (call counters) record them the same
//! way, through the [`metrics`] facade (without an installed recorder
//! every call here is a no-op).
//!
//! Labels are bounded by construction: no label ever carries a path, an
//! id, a token or a user name, so an attacker cannot grow the series
//! count.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http::Method;

/// Whether the recording helpers below record (see [`set_recording`]).
static RECORDING: AtomicBool = AtomicBool::new(true);

/// Turns the recording helpers of this module on or off for the whole
/// process. On by default, so that an embedder's own recorder sees every
/// metric; the `snf-occi` binary turns them off when its configuration
/// serves no metrics, because then nothing reads them and building their
/// labels (an operation template, a status, label vectors) is a few
/// allocations per Synnefo call for nothing.
pub fn set_recording(on: bool) {
    RECORDING.store(on, Ordering::Relaxed);
}

/// Whether the recording helpers record ([`set_recording`]).
pub fn recording() -> bool {
    RECORDING.load(Ordering::Relaxed)
}

/// Counter: requests answered, by `method`, `route` and `status`.
pub const HTTP_REQUESTS: &str = "snf_occi_http_requests_total";
/// Histogram (seconds): time to the response head, by `method`, `route`
/// and `status`.
pub const HTTP_DURATION: &str = "snf_occi_http_request_duration_seconds";
/// Gauge: requests in flight.
pub const HTTP_IN_FLIGHT: &str = "snf_occi_http_requests_in_flight";
/// Counter: calls to Synnefo, by `service`, `operation` (a template such as
/// `GET /servers/{id}`) and `status` (the HTTP code, or `error` when no
/// answer came).
pub const SYNNEFO_CALLS: &str = "snf_occi_synnefo_calls_total";
/// Histogram (seconds): duration of calls to Synnefo, by `service`,
/// `operation` and `status`.
pub const SYNNEFO_DURATION: &str = "snf_occi_synnefo_call_duration_seconds";
/// Counter: cache lookups, by `cache` and `result` (`hit` or `miss`).
pub const CACHE_LOOKUPS: &str = "snf_occi_cache_lookups_total";
/// Counter: authentication decisions, by `filter`, `outcome`
/// (`accepted`, `rejected`, `passed`, `error`) and `reason` (a fixed word).
pub const AUTH_OUTCOMES: &str = "snf_occi_auth_outcomes_total";

/// Every histogram name, for exporters that need bucket configuration.
pub const HISTOGRAMS: [&str; 2] = [HTTP_DURATION, SYNNEFO_DURATION];

/// Histogram buckets (seconds) suited to an API gateway in front of a
/// cloud: 1 ms up to 30 s.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The method as a bounded label.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        // Extension methods are arbitrary client text: never a label.
        _ => "OTHER",
    }
}

/// Counts one call to Synnefo. `operation` makes the template (no ids),
/// only when recording; `status` is the HTTP code, or `None` when no
/// answer came.
pub fn record_synnefo_call(
    service: &'static str,
    operation: impl FnOnce() -> String,
    status: Option<u16>,
    elapsed: Duration,
) {
    if !recording() {
        return;
    }
    let labels = vec![
        metrics::Label::new("service", service),
        metrics::Label::new("operation", operation()),
        metrics::Label::new("status", status_label(status)),
    ];
    metrics::counter!(SYNNEFO_CALLS, labels.clone()).increment(1);
    metrics::histogram!(SYNNEFO_DURATION, labels).record(elapsed.as_secs_f64());
}

/// The status label of a Synnefo call: the code, or `error` when no
/// answer came; the codes Synnefo answers without an allocation.
fn status_label(status: Option<u16>) -> metrics::SharedString {
    let known = match status {
        None => "error",
        Some(200) => "200",
        Some(201) => "201",
        Some(202) => "202",
        Some(204) => "204",
        Some(304) => "304",
        Some(400) => "400",
        Some(401) => "401",
        Some(403) => "403",
        Some(404) => "404",
        Some(409) => "409",
        Some(413) => "413",
        Some(500) => "500",
        Some(503) => "503",
        Some(other) => return other.to_string().into(),
    };
    known.into()
}

/// Counts one lookup in the cache named `cache`.
pub fn record_cache_lookup(cache: &'static str, hit: bool) {
    if !recording() {
        return;
    }
    let result = if hit { "hit" } else { "miss" };
    metrics::counter!(CACHE_LOOKUPS, "cache" => cache, "result" => result).increment(1);
}

/// Counts one decision of the auth filter `filter`. `outcome` and `reason`
/// must be fixed words chosen by the filter, never request data.
pub fn record_auth_outcome(filter: &'static str, outcome: &'static str, reason: &'static str) {
    if !recording() {
        return;
    }
    metrics::counter!(AUTH_OUTCOMES, "filter" => filter, "outcome" => outcome, "reason" => reason)
        .increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_methods_are_not_labels() {
        let m = Method::from_bytes(b"SECRETTOKEN").unwrap();
        assert_eq!(method_label(&m), "OTHER");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
    }

    #[test]
    fn statuses_are_their_codes_or_error() {
        assert_eq!(&*status_label(Some(404)), "404");
        assert_eq!(&*status_label(Some(418)), "418");
        assert_eq!(&*status_label(None), "error");
    }
}
