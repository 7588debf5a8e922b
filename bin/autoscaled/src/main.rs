//! autoscaled: a Heroku dyno autoscaler.

fn main() {}
