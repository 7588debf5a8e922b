//! Drain bodies as Heroku sends them, through parsing and aggregation.

mod router_logs {
    pub(crate) mod support;

    mod aggregate;
    mod framing;
    mod health;
    mod lines;
    mod properties;
    mod seen;
}
