//! `occi_negotiate`: content negotiation for OCCI renderings.
//! (Filled in by the OCCI-model issue.)
