//! Authentication filters: each sets [`crate::AuthContext`].
//! (Filled in by the auth issue.)
