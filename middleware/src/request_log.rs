//! `request_log`: one tracing event per request.
//! (Filled in by the pipeline issue.)
